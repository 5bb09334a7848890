DROP TABLE notify_attempts;
DROP TABLE notify_deliveries;
DROP TABLE notify_subscriptions;
