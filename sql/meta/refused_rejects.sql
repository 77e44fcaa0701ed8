-- The rejected rows of the newest run refused for too many rejects (a broken export): nothing of that run is
-- published, but its rows say what broke. Created anew, in one transaction with its rows, by each refused run
-- (elt/refused.py); the Data pipeline page shows it while that run is newer than the published one.
create table meta.refused_rejects (
    order_id text,
    raw_record text not null,
    reject_reason text not null,
    source_file text not null,
    run_id bigint not null
);
