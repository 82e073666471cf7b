-- Seed 004: CoffeeCo order journeys. The time from customer.order:initialized
-- to customer.order:fulfilled per order (an interval join: the fulfilment must
-- come within an hour), flagged when it exceeds the store's expected time.
-- Run from the repository root:  spate run --once examples/sql/coffee.sql

CREATE SOURCE steps (
  order_id STRING,
  store    STRING,
  step     STRING,
  ts       TIMESTAMP,
  WATERMARK FOR ts AS ts - INTERVAL '10' SECONDS
) WITH (connector = 'files', path = 'examples/sql/data/coffee', format = 'csv',
        header = 'true');

CREATE TABLE expected (store STRING, expected_seconds INT)
  WITH (connector = 'files', path = 'examples/sql/data/expected.csv', format = 'csv',
        header = 'true');

CREATE VIEW ordered AS
  SELECT order_id, store, ts FROM steps WHERE step = 'customer.order:initialized';
CREATE VIEW fulfilled AS
  SELECT order_id, ts FROM steps WHERE step = 'customer.order:fulfilled';

CREATE SINK order_durations
  WITH (connector = 'files', path = 'out/sql-coffee', format = 'csv', header = 'true');

INSERT INTO order_durations
SELECT o.order_id, o.store, o.ts AS ordered_at, f.ts AS fulfilled_at,
       TIMESTAMPDIFF(SECOND, o.ts, f.ts) AS seconds,
       TIMESTAMPDIFF(SECOND, o.ts, f.ts) > e.expected_seconds AS too_slow
FROM ordered AS o
JOIN fulfilled AS f
  ON o.order_id = f.order_id AND f.ts BETWEEN o.ts AND o.ts + INTERVAL '1' HOUR
JOIN expected AS e ON o.store = e.store;
