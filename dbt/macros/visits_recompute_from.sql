{#-
  int_visits' incremental window.

  A new event at time t can change only the rows whose key event (the entry, or the orphan exit)
  is within 6 h + 2 min before t: an entry waiting for its exit, a tap it turns into a double
  tap, an exit it pairs. So a run re-pairs from 6 h 2 min before the earliest of
    - the last event already in the table (an open entry may get its exit), and
    - the earliest event written since the previous run read checkins (a late or backfilled one).

  "Written since the previous run read checkins" is exact, not a guess with a margin: every row
  carries lido_ate, the read horizon W of the run that wrote it (visits_read_horizon()): every
  event with gravado_em < W had committed before that run read checkins. gravado_em is now() of
  the writing transaction, i.e. its start, so the events a run could not see are exactly those
  of transactions that were still open when it started: W is the start of the oldest open one.
  The next run's new events are then those with gravado_em >= max(lido_ate): the few written
  since, not every event written within some margin before (after a bulk import that would be
  the whole history).
-#}

{#-
  The read horizon of this run, as a timestamptz literal, taken before the run reads checkins
  (at compile time, before the pre-hook and the model's statement): the start of the oldest
  transaction open in this database, or now. A session whose state we may not see (another
  role, without pg_read_all_stats) counts as open for an hour. The same literal goes into every
  row this run writes.
-#}
{% macro visits_read_horizon() -%}
    {%- if not execute -%}
        {{- return('current_timestamp') -}}
    {%- endif -%}
    {%- set query -%}
        select to_char(
            least(
                now(),
                min(
                    case
                        when a.state is null or a.state = 'disabled' then now() - interval '1 hour'
                        else a.xact_start
                    end
                )
            ) at time zone 'UTC',
            'YYYY-MM-DD HH24:MI:SS.US'
        )
        from pg_stat_activity as a
        where
            a.datname = current_database()
            and a.backend_type = 'client backend'
            and a.pid <> pg_backend_pid()
    {%- endset -%}
    {%- set horizon = run_query(query).columns[0].values()[0] -%}
    {{- return("cast('" ~ horizon ~ "+00' as timestamptz)") -}}
{%- endmacro %}

{#-
  Where the pre-hook starts deleting (and the run re-pairing), from the table as the previous
  run left it, through int_visits' indexes: the last event is an entry or an exit at most 6 h
  after its entry, so its row is on the last gym-local day or the day before (data_local); the
  previous run's horizon is on its rows (processado_em). The new events are read through a fence
  (offset 0) so PostgreSQL scans checkins once (there is no index on gravado_em) instead of
  walking the ocorrido_em index from the oldest event looking for a new one.
-#}
{% macro visits_recompute_from(relation) -%}
(
    select
        least(
            previous.ultimo_evento,
            coalesce(
                (
                    select min(novos.ocorrido_em)
                    from (
                        select ocorrido_em
                        from {{ ref('stg_app__checkins') }}
                        where gravado_em >= previous.lido_ate
                        offset 0
                    ) as novos
                ),
                'infinity'::timestamptz
            )
        ) - {{ pairing_lookback() }}
    from (
        select
            (
                select greatest(max(entrada), max(saida))
                from {{ relation }}
                where data_local >= (select max(data_local) from {{ relation }}) - 1
            ) as ultimo_evento,
            (
                select max(lido_ate)
                from {{ relation }}
                where processado_em >= (select max(processado_em) from {{ relation }})
            ) as lido_ate
    ) as previous
)
{%- endmacro %}
