{#-
  Visits, paired by the rule shared with the API (serving/sql/pair_visits.sql).

  Incremental (see macros/visits_recompute_from.sql): the pre-hook deletes every row from the
  re-pairing start S on (so a row that a late event removes, e.g. an orphan exit that now has its
  entry, goes too). The model then rebuilds every row after the last one left (R < S), reading
  events from 6 h 2 min before R so the first rows have their predecessors, and appends them: a
  visita_id is the checkin_id of the row's key event, so it fixes the row's time, and no row
  after R was left. (R is found on the last two days of data_local, as in the pre-hook.)
  lido_ate, this run's read horizon, is a literal taken before the pre-hook: an event committed
  while the run is under way has gravado_em >= lido_ate and is a new event for the next run.
  JIT is off for an incremental run: R is known only when the statement runs, so PostgreSQL
  plans for a third of checkins and would spend a second or more compiling a plan that then
  reads one night's events.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        indexes=[
            {'columns': ['processado_em']},
            {'columns': ['data_local']},
            {'columns': ['aluno_id', 'data_local']},
        ],
        pre_hook=[
            "{% if is_incremental() %} set local jit = off {% endif %}",
            "
            {% if is_incremental() %}
            with inicio as materialized (select {{ visits_recompute_from(this) }} as s)
            delete from {{ this }}
            where
                data_local >= (select {{ local_date('s') }} from inicio)
                and coalesce(entrada, saida) >= (select s from inicio)
            {% endif %}
            ",
        ]
    )
}}

with

{% if is_incremental() %}
restante as (

    -- the last row the pre-hook left: everything after it is rebuilt
    select coalesce(max(coalesce(entrada, saida)), '-infinity'::timestamptz) as ultimo
    from {{ this }}
    where data_local >= (select max(data_local) from {{ this }}) - 1

),
{% endif %}

checkins as (

    select checkin_id, aluno_id, tipo, ocorrido_em, gravado_em
    from {{ ref('stg_app__checkins') }}
    {% if is_incremental() %}
    where ocorrido_em >= (select ultimo from restante) - {{ pairing_lookback() }}
    {% endif %}

),

paired as (

    {{ pair_visits('checkins') }}

),

final as (

    select
        cast(paired.visita_id as uuid) as visita_id,
        cast(paired.aluno_id as bigint) as aluno_id,
        cast(paired.evento as text) as evento,
        paired.entrada,
        paired.saida,
        cast(paired.duracao_minutos as numeric(10, 1)) as duracao_minutos,
        {{ local_date('coalesce(paired.entrada, paired.saida)') }} as data_local,
        cast(
            extract(
                hour from coalesce(paired.entrada, paired.saida)
                at time zone '{{ var("gym_timezone") }}'
            ) as integer
        ) as hora_local,
        -- when the key event (the entry, or the orphan exit) was written
        checkins.gravado_em,
        cast(current_timestamp as timestamptz) as processado_em,
        -- every event written before this instant was read by the run that wrote this row
        {{ visits_read_horizon() }} as lido_ate
    from paired
    inner join checkins on checkins.checkin_id = paired.visita_id
    {% if is_incremental() %}
    where coalesce(paired.entrada, paired.saida) > (select ultimo from restante)
    {% endif %}

)

select * from final
