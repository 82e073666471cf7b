-- Seed 003: events per device in 10-minute windows sliding every 5 minutes,
-- with a 10-minute watermark: Structured Streaming's
--   withWatermark("eventTime", "10 minutes")
--     .groupBy("deviceId", window("eventTime", "10 minutes", "5 minutes")).count()
-- Readings later than the watermark are dropped and counted.
-- Run from the repository root:  spate run --once examples/sql/device_counts.sql

CREATE SOURCE events (
  device_id STRING,
  ts        TIMESTAMP,
  reading   DOUBLE,
  WATERMARK FOR ts AS ts - INTERVAL '10' MINUTES
) WITH (connector = 'files', path = 'examples/data/devices', format = 'csv', header = 'true');

CREATE SINK device_counts
  WITH (connector = 'files', path = 'out/sql-devices', format = 'csv', header = 'true');

INSERT INTO device_counts
SELECT device_id, window_start, window_end, COUNT(*) AS events
FROM TABLE(HOP(TABLE events, DESCRIPTOR(ts), INTERVAL '5' MINUTES, INTERVAL '10' MINUTES))
GROUP BY device_id, window_start, window_end;
