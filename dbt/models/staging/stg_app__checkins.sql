with

source as (

    select * from {{ source('app', 'checkins') }}

),

renamed as (

    select

        ----------  ids
        checkin_id,
        aluno_id,

        ---------- text
        cast(tipo as text) as tipo,
        dispositivo,
        cast(origem as text) as origem,

        ---------- timestamps
        ocorrido_em,
        aceito_em,
        gravado_em

    from source

)

select * from renamed
