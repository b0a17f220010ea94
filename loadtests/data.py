"""Data the journeys send; importable without Locust (which monkey-patches the process)."""

SMALL_CATALOG = "sku,title,price,currency,availability,brand,category\n" + "\n".join(
    f"LT-{n},Load test item {n},{10 + n}.00,USD,in_stock,Loadco,Test" for n in range(20)
)
