with

source as (

    select * from {{ source('app', 'alunos_status_historico') }}

),

renamed as (

    select

        ----------  ids
        id as status_id,
        aluno_id,

        ---------- text
        motivo,
        registrado_por,

        ---------- booleans
        ativo as is_ativo,

        ---------- dates
        {{ local_date('ocorrido_em') }} as data_ocorrido,

        ---------- timestamps
        ocorrido_em,
        registrado_em

    from source

)

select * from renamed
