-- One row per month with no gaps between the first and the last month that has any order.
with

months as (
    select
        orders_by_month.month,
        lag(orders_by_month.month) over (order by orders_by_month.month) as previous_month
    from mrt.orders_by_month as orders_by_month
)

select
    months.previous_month,
    months.month
from months
where months.previous_month is not null
  and months.month != (months.previous_month + interval '1 month')::date
