-- The rows of the latest run that broke the contract, with the record as read and why.
create table orders_rejected (
    order_id text,
    raw_record text not null,
    reject_reason text not null,
    source_file text not null,
    run_id bigint not null,
    loaded_at timestamptz not null
);
