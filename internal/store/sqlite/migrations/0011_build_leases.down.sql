DROP TABLE build_leases;
