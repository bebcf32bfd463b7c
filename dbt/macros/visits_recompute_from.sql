{#-
  Where int_visits starts re-pairing on an incremental run, as a SQL expression.

  A new event at time t can change only the rows whose event is within 6 h + 2 min before t
  (an entry waiting for its exit, a tap it turns into a double tap, an exit it pairs). New events
  are those written (gravado_em) after the newest key event already in the table, with an hour
  of margin for transactions that committed late; events that happen after the last event in
  the table are new by definition. So re-pairing starts 6 h 2 min before the earliest of: the
  last event in the table, the earliest new event (a late or backfilled one).
-#}
{% macro visits_recompute_from(relation) -%}
(
    select
        least(
            previous.ultimo_evento,
            coalesce(
                (
                    select min(novos.ocorrido_em)
                    from {{ ref('stg_app__checkins') }} as novos
                    where novos.gravado_em > previous.ultimo_gravado - interval '1 hour'
                ),
                'infinity'::timestamptz
            )
        ) - interval '6 hours 2 minutes'
    from (
        select
            coalesce(greatest(max(entrada), max(saida)), '-infinity'::timestamptz)
                as ultimo_evento,
            coalesce(max(gravado_em), '-infinity'::timestamptz) as ultimo_gravado
        from {{ relation }}
    ) as previous
)
{%- endmacro %}
