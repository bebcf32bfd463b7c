{#-
  The visit pairing rule, written once. The API renders this file with Jinja and dbt loads it
  as a macro (dbt_project.yml lists this folder under macro-paths), so both count the same visits.
  The 2 minutes and the 6 hours are macros of pairing.sql (double_tap_window, pairing_reach).

  Input: a relation or subquery with checkin_id, aluno_id, tipo ('entrada'|'saida'), ocorrido_em.
  Rule, per member in time order:
    1. a tap of the same type within 2 minutes of the previous one is a double tap: dropped;
    2. an entry is a visit; its exit is the next event when that is an exit within 6 hours,
       otherwise the visit has no duration (the kiosk missed the exit);
    3. an exit not paired by rule 2 is an anomaly (`saida_sem_entrada`).
  Output: one row per kept event: evento ('visita' | 'saida_sem_entrada'), visita_id (the
  entry's checkin_id, or the orphan exit's), aluno_id, entrada, saida, duracao_minutos.
-#}
{% macro pair_visits(events) -%}
with gp_ordered as (
    select
        checkin_id,
        aluno_id,
        tipo,
        ocorrido_em,
        lag(tipo) over (partition by aluno_id order by ocorrido_em, checkin_id) as tipo_anterior,
        lag(ocorrido_em) over (partition by aluno_id order by ocorrido_em, checkin_id)
            as ocorrido_anterior
    from {{ events }}
),

gp_taps as (
    select checkin_id, aluno_id, tipo, ocorrido_em
    from gp_ordered
    where
        tipo_anterior is null
        or tipo <> tipo_anterior
        or ocorrido_em - ocorrido_anterior > {{ double_tap_window() }}
),

gp_neighbours as (
    select
        checkin_id,
        aluno_id,
        tipo,
        ocorrido_em,
        lag(tipo) over (partition by aluno_id order by ocorrido_em, checkin_id) as tipo_anterior,
        lag(ocorrido_em) over (partition by aluno_id order by ocorrido_em, checkin_id)
            as ocorrido_anterior,
        lead(tipo) over (partition by aluno_id order by ocorrido_em, checkin_id) as tipo_seguinte,
        lead(ocorrido_em) over (partition by aluno_id order by ocorrido_em, checkin_id)
            as ocorrido_seguinte
    from gp_taps
),

gp_paired as (
    select
        checkin_id as visita_id,
        aluno_id,
        case
            when tipo = 'entrada' then 'visita'
            when tipo_anterior = 'entrada'
                and ocorrido_em - ocorrido_anterior <= {{ pairing_reach() }} then 'saida_pareada'
            else 'saida_sem_entrada'
        end as evento,
        case when tipo = 'entrada' then ocorrido_em end as entrada,
        case
            when tipo = 'entrada'
                and tipo_seguinte = 'saida'
                and ocorrido_seguinte - ocorrido_em <= {{ pairing_reach() }} then ocorrido_seguinte
            when tipo = 'saida' then ocorrido_em
        end as saida
    from gp_neighbours
)

select
    evento,
    visita_id,
    aluno_id,
    entrada,
    saida,
    case
        when evento = 'visita' and saida is not null
            then round((extract(epoch from saida - entrada) / 60.0)::numeric, 1)
    end as duracao_minutos
from gp_paired
where evento <> 'saida_pareada'
{%- endmacro %}
