-- Seed 004: completed-cart totals per day of week (0 = Sunday) and hour of day,
-- the Redis hash pattern {day}:{hour} -> total, written to files for now.
-- Run from the repository root:  spate run --once examples/sql/carts.sql

CREATE SOURCE carts (
  cart_id STRING,
  status  STRING,
  total   DOUBLE,
  ts      TIMESTAMP
) WITH (connector = 'files', path = 'examples/sql/data/carts', format = 'csv', header = 'true');

CREATE SINK hourly_carts
  WITH (connector = 'files', path = 'out/sql-carts', format = 'csv', header = 'true');

INSERT INTO hourly_carts
SELECT CONCAT(CAST(DAYOFWEEK(ts) - 1 AS STRING), ':', CAST(HOUR(ts) AS STRING)) AS field,
       COUNT(*) AS completed,
       SUM(total) AS revenue
FROM carts
WHERE status = 'completed'
GROUP BY DAYOFWEEK(ts) - 1, HOUR(ts);
