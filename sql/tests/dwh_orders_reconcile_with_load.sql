-- One row per order: dwh.orders holds exactly the orders the load copied into raw (setting elt.orders_loaded, which
-- the load checked against the extract's accepted count). The extract makes them one per order_id, so a load or a
-- model that duplicates or drops orders is what fails here.
select
    count(*) as dwh_orders,
    current_setting('elt.orders_loaded')::bigint as orders_loaded
from dwh.orders as orders
having count(*) != current_setting('elt.orders_loaded')::bigint
