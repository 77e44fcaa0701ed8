-- The typed orders as read, one row per distinct order, plus lineage. Runs with search_path = raw_next.
-- The rows go into child tables orders_part_<n>, one per loading connection (elt/load.py); reading orders reads them.
-- The identifiers compare byte-wise (collate "C"): they are codes, not words, and every layer built from them
-- inherits it, so their sorts, keys and indexes skip the locale's rules (at 10M orders: orders key 7.7 s -> 5.8 s,
-- customers 22.3 s -> 18.8 s).
create table orders (
    order_id text collate "C" not null,
    ordered_at timestamptz not null,
    customer_id text collate "C" not null,
    email text,
    first_name text,
    last_name text,
    country text,
    product_category text,
    quantity integer not null,
    unit_price numeric(12, 2) not null,
    status text not null,
    marketing_opt_in boolean not null,
    source_file text not null,
    run_id bigint not null,
    loaded_at timestamptz not null
);
