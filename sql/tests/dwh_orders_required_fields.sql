-- Required fields of the contract are never null in the warehouse, and the month is derived for every order.
select orders.order_id
from dwh.orders as orders
where
    orders.ordered_at is null
    or orders.customer_id is null
    or orders.quantity is null
    or orders.quantity < 1
    or orders.unit_price is null
    or orders.unit_price < 0
    or orders.status not in ('completed', 'cancelled', 'refunded')
    or orders.marketing_opt_in is null
    or orders.order_month is null
