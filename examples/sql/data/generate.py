#!/usr/bin/env python3
"""Regenerates the sample data of the SQL examples (deterministic: fixed seed).

parking/  sensor flips of three garages: a space becomes occupied or free
coffee/   the four steps of CoffeeCo orders (seed 004), some orders slow
carts/    shopping carts with their final status, over two weeks
garages.csv, expected.csv: the reference tables the examples join with
"""
import datetime as dt
import os
import random

random.seed(20240301)
HERE = os.path.dirname(os.path.abspath(__file__))


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def write(path, header, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(header + "\n")
        for r in rows:
            f.write(",".join(str(x) for x in r) + "\n")


# Parking: each garage has `capacity` spaces, all free at the start; sensors emit
# only when a space flips. One file per hour.
garages = {"G-north": 40, "G-south": 25, "G-east": 60}
write(os.path.join(HERE, "garages.csv"), "garage,capacity", sorted(garages.items()))
occupied = {(g, s): False for g, cap in garages.items() for s in range(cap)}
start = dt.datetime(2024, 3, 1, 7, 0, 0)
for hour in range(4):
    rows = []
    t = start + dt.timedelta(hours=hour)
    for _ in range(150):
        t += dt.timedelta(seconds=random.randint(1, 40))
        g = random.choice(sorted(garages))
        s = random.randrange(garages[g])
        occupied[(g, s)] = not occupied[(g, s)]
        rows.append((g, "%s-%03d" % (g, s), iso(t), "false" if occupied[(g, s)] else "true"))
    write(os.path.join(HERE, "parking", "sensors-%02d00.csv" % (7 + hour)),
          "garage,space_id,ts,available", rows)

# Coffee orders: initialized -> payment:processed -> queued -> fulfilled.
stores = ["downtown", "airport", "campus"]
write(os.path.join(HERE, "expected.csv"), "store,expected_seconds",
      [("airport", 420), ("campus", 300), ("downtown", 360)])
events = []
t = dt.datetime(2024, 3, 1, 7, 30, 0)
for n in range(120):
    t += dt.timedelta(seconds=random.randint(5, 60))
    oid = "ord-%04d" % n
    store = random.choice(stores)
    slow = random.random() < 0.15
    steps = ["initialized", "payment:processed", "queued", "fulfilled"]
    at = t
    for i, step in enumerate(steps):
        if i:
            at += dt.timedelta(seconds=random.randint(20, 90) + (random.randint(300, 900) if slow and step == "fulfilled" else 0))
        if random.random() < 0.03 and step == "fulfilled":
            break  # never fulfilled (yet)
        events.append((at, oid, store, "customer.order:" + step))
events.sort()
for part in range(3):
    chunk = [e for i, e in enumerate(events) if i * 3 // len(events) == part]
    write(os.path.join(HERE, "coffee", "steps-%d.csv" % part), "order_id,store,step,ts",
          [(o, s, st, iso(a)) for a, o, s, st in chunk])

# Carts: one row per cart when it ends, completed or abandoned.
t = dt.datetime(2024, 2, 25, 0, 0, 0)  # a Sunday
for day in range(14):
    rows = []
    base = t + dt.timedelta(days=day)
    for _ in range(random.randint(30, 60)):
        at = base + dt.timedelta(seconds=random.randint(0, 86399))
        status = "completed" if random.random() < 0.6 else "abandoned"
        rows.append((at, "cart-%d-%d" % (day, len(rows)), status, "%.2f" % random.uniform(5, 250)))
    rows.sort()
    write(os.path.join(HERE, "carts", "carts-%s.csv" % base.strftime("%Y%m%d")),
          "cart_id,status,total,ts", [(c, s, v, iso(a)) for a, c, s, v in rows])
