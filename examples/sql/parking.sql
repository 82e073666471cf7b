-- Seed 004: real-time parking availability. Sensors report when a space flips
-- (available = false: a car parked, true: it left); every garage starts empty.
-- Free spaces per garage = capacity - occupied, updated live (a changelog).
-- Run from the repository root:  spate run --once examples/sql/parking.sql

CREATE SOURCE sensors (
  garage    STRING,
  space_id  STRING,
  ts        TIMESTAMP,
  available BOOLEAN,
  WATERMARK FOR ts AS ts - INTERVAL '30' SECONDS
) WITH (connector = 'files', path = 'examples/sql/data/parking', format = 'csv',
        header = 'true');

CREATE TABLE garages (garage STRING, capacity INT)
  WITH (connector = 'files', path = 'examples/sql/data/garages.csv', format = 'csv',
        header = 'true');

CREATE SINK free_spaces
  WITH (connector = 'files', path = 'out/sql-parking', format = 'csv', header = 'true');

INSERT INTO free_spaces
SELECT s.garage,
       g.capacity - SUM(CASE WHEN s.available THEN -1 ELSE 1 END) AS free,
       MAX(s.ts) AS as_of
FROM sensors AS s
JOIN garages AS g ON s.garage = g.garage
GROUP BY s.garage, g.capacity;

-- The same answer from each space's latest report (deduplication keeps the last
-- row per space, an updating result), counted per garage: the count follows
-- retractions, so a space that frees up leaves its garage's occupied count.
CREATE SINK occupied_spaces
  WITH (connector = 'files', path = 'out/sql-parking-occupied', format = 'csv', header = 'true');

INSERT INTO occupied_spaces
SELECT garage, COUNT(*) AS occupied
FROM (
  SELECT * FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY space_id ORDER BY ts DESC) AS rn FROM sensors
  ) WHERE rn = 1
) WHERE NOT available
GROUP BY garage;
