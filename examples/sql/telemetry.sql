-- Seed 001: medical telemetry. Per patient and visit, the running minimum,
-- maximum, mean and count of the heart rate, updated as readings arrive.
-- Run from the repository root:  spate run --once examples/sql/telemetry.sql
-- The result is a changelog (op column: +I first result, -U/+U updates).

CREATE SOURCE vitals (
  patient_id STRING,
  visit      STRING,
  `timestamp` TIMESTAMP,
  heart_rate INT
) WITH (connector = 'files', path = 'examples/data/telemetry', format = 'csv', header = 'true');

CREATE SINK vitals_summary
  WITH (connector = 'files', path = 'out/sql-telemetry', format = 'csv', header = 'true');

INSERT INTO vitals_summary
SELECT patient_id, visit,
       MIN(heart_rate) AS min_hr,
       MAX(heart_rate) AS max_hr,
       AVG(heart_rate) AS mean_hr,
       COUNT(*)        AS readings
FROM vitals
GROUP BY patient_id, visit;
