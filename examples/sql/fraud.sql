-- Seed 002: fraud detection. Per account, the running average of all its
-- transactions and the average of each 10-second window, compared with the
-- account's historic average (reference data); an account is flagged when
-- either exceeds the historic average by more than 2000.
-- Run from the repository root:  spate run --once examples/sql/fraud.sql

SET 'table.local-time-zone' = 'UTC';

CREATE SOURCE transactions (
  account STRING,
  amount  DOUBLE,
  ts      TIMESTAMP,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH (connector = 'files', path = 'examples/data/fraud/transactions', format = 'csv',
        header = 'true');

-- Bounded reference data, joined by lookup.
CREATE TABLE historic (account STRING, avg_amount DOUBLE)
  WITH (connector = 'files', path = 'examples/data/fraud/historic.csv', format = 'csv',
        header = 'true');

CREATE SINK running_alerts
  WITH (connector = 'files', path = 'out/sql-fraud/running', format = 'jsonl');
CREATE SINK window_alerts
  WITH (connector = 'files', path = 'out/sql-fraud/window', format = 'jsonl');

-- Running average: an updating result; an account leaves it (-U) when its
-- average falls back under the threshold.
INSERT INTO running_alerts
SELECT t.account, COUNT(*) AS n, AVG(t.amount) AS running_avg, h.avg_amount AS historic_avg
FROM transactions AS t
JOIN historic AS h ON t.account = h.account
GROUP BY t.account, h.avg_amount
HAVING AVG(t.amount) - h.avg_amount > 2000;

-- 10-second windows: final results, one per account and window.
INSERT INTO window_alerts
SELECT w.account, w.window_start, w.window_end, w.window_avg, h.avg_amount AS historic_avg
FROM (
  SELECT account, window_start, window_end, AVG(amount) AS window_avg
  FROM TABLE(TUMBLE(TABLE transactions, DESCRIPTOR(ts), INTERVAL '10' SECONDS))
  GROUP BY account, window_start, window_end
) AS w
JOIN historic AS h ON w.account = h.account
WHERE w.window_avg - h.avg_amount > 2000;
