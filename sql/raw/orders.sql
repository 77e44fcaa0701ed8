-- The typed orders as read, one row per distinct order, plus lineage. Runs with search_path = raw_next.
create table orders (
    order_id text not null,
    ordered_at timestamptz not null,
    customer_id text not null,
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
