DROP TABLE poll_state;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
