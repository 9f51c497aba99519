"""Write a seeded, taxi-like synthetic CSV, streamed row by row (any size, flat memory).

Columns: numeric (fare, trip_miles, trip_seconds), categorical (payment_type, company),
timestamps (trip_start_timestamp, as epoch seconds), ints (pickup_community_area) and
missing values (empty fields), like the Chicago taxi data TFX examples use.

    python benchmarks/make_taxi_csv.py --rows 100000 --out /tmp/taxi/data.csv
"""
from __future__ import annotations

import argparse
import csv
import os
import random

HEADER = ["trip_start_timestamp", "trip_seconds", "trip_miles", "fare", "tips", "payment_type",
          "company", "pickup_community_area", "dropoff_community_area", "tip_over_20pct"]
PAYMENTS = ["Credit Card", "Cash", "No Charge", "Unknown", "Dispute"]
COMPANIES = [f"Taxi Co {i}" for i in range(40)]


def write(rows: int, out: str, seed: int = 7) -> None:
    rng = random.Random(seed)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        start = 1_577_836_800  # 2020-01-01
        for _ in range(rows):
            miles = round(rng.expovariate(1 / 3.5), 2)
            seconds = int(miles * rng.uniform(120, 300)) + 60
            fare = round(3.25 + miles * 2.25 + rng.random(), 2)
            payment = rng.choices(PAYMENTS, weights=[60, 35, 2, 2, 1])[0]
            tips = round(fare * rng.uniform(0, 0.3), 2) if payment == "Credit Card" else 0.0
            writer.writerow([
                start + rng.randrange(365 * 86400), seconds, miles, fare, tips, payment,
                rng.choice(COMPANIES) if rng.random() > 0.1 else "",
                rng.randint(1, 77) if rng.random() > 0.05 else "",
                rng.randint(1, 77) if rng.random() > 0.15 else "",
                int(tips > 0.2 * fare),
            ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    write(args.rows, args.out, args.seed)
    print(f"wrote {args.rows} rows to {args.out} ({os.path.getsize(args.out) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
