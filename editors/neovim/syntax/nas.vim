" Vim syntax file for `.nas`, the nasc search-space language (grammar/nas.pest).
" Works in Vim and Neovim without tree-sitter. Words that are keywords only in one place
" (`top` and `by` after `keep`, `weight` after an objective's metric, the kind after
" `builtin`, `static` after a metric's type) are highlighted only there.

if exists("b:current_syntax")
  finish
endif

let s:cpo_save = &cpo
set cpo&vim

" Identifiers are ASCII letters, digits and `_`.
syn iskeyword @,48-57,_

" Names and calls first: keywords (below) take priority over them.
syn match nasIdentifier "\<\h\w*\>"
syn match nasCall "\<\h\w*\ze\s*("
syn match nasDomain "\<\%(choice\|range\|uniform\|log_uniform\)\ze\s*("
syn match nasBuiltinFn "\<\%(min\|max\|abs\|concat\|add\|int\|float\|log2\|sqrt\)\ze\s*("
syn match nasNamedArg "\<\h\w*\ze\s*=\%(=\)\@!"
syn match nasParamName "\<\h\w*\ze\s*:"

" Types: after `:` and after `->` in `fn f() -> module`.
syn match nasType "\%(:\s*\)\@<=\h\w*"
syn match nasType "\%(->\s*\)\@<=\%(module\|int\|float\|bool\|string\|enum\|tensor\|path\)\>"
syn match nasMetricKind "\%(:\s*\h\w*\s\+\)\@<=\%(static\|measured\)\>"

" Declarations: the name after the keyword.
syn match nasVarName "\%(\<\%(param\|let\)\s\+\)\@<=\h\w*"
syn match nasFnName "\%(\<fn\s\+\)\@<=\h\w*"
syn match nasTypeName "\%(\<\%(space\|enum\)\s\+\)\@<=\h\w*"
syn match nasBuiltinKind "\%(\<builtin\s\+\)\@<=\%(module\|strategy\|optimizer\|dataset\|metric\)\>"
syn match nasFnName "\%(\<builtin\s\+\%(module\|strategy\|optimizer\|dataset\|metric\)\s\+\)\@<=\h\w*"

" Contextual keywords.
syn match nasObjectiveWord "\%(\<\%(minimize\|maximize\)\s\+\h\w*\s\+\)\@<=weight\>"
syn match nasFilterWord "\%(\<keep\>.*\)\@<=\<\%(top\|by\|pareto\|best\|where\)\>"

" The keywords of grammar/nas.pest.
syn keyword nasInclude import as
syn keyword nasStorage space param let fn builtin enum
syn keyword nasConditional if else
syn keyword nasRepeat repeat
syn keyword nasStatement optional residual require graph
syn keyword nasBoolean true false
syn keyword nasOperatorWord and or not
syn keyword nasConfig data train objective pipeline
syn keyword nasObjectiveWord minimize maximize keep
syn keyword nasSpecial input

" Numbers: `1_000`, `0.5`, `1e-3`, `5M`.
syn match nasNumber "\<\d[0-9_]*\%(\.\d\+\)\=\%([eE][+-]\=\d\+\)\=\%([KMG]\>\)\="

syn match nasOperator ">>\||>\|->\|==\|!=\|<=\|>=\|[<>+*/%=-]"

" Strings end on their line; `\` escapes any character.
syn match nasEscape "\\." contained
syn region nasString start=+"+ skip=+\\.+ end=+"\|$+ oneline contains=nasEscape

" Comments last, so they win over `/` as an operator. `///` at the start of a line is a
" doc comment; block comments do not nest.
syn keyword nasTodo TODO FIXME XXX NOTE contained
syn match nasComment "//.*$" contains=nasTodo,@Spell
syn match nasDocCode "`[^`]*`" contained
syn match nasDocComment "^\s*///.*$" contains=nasTodo,nasDocCode,@Spell
syn region nasBlockComment start="/\*" end="\*/" contains=nasTodo,@Spell

hi def link nasIdentifier    NONE
hi def link nasCall          Function
hi def link nasDomain        Special
hi def link nasBuiltinFn     Function
hi def link nasNamedArg      Identifier
hi def link nasParamName     Identifier
hi def link nasType          Type
hi def link nasMetricKind    StorageClass
hi def link nasVarName       Identifier
hi def link nasFnName        Function
hi def link nasTypeName      Type
hi def link nasBuiltinKind   StorageClass
hi def link nasObjectiveWord Keyword
hi def link nasFilterWord    Keyword
hi def link nasInclude       Include
hi def link nasStorage       Keyword
hi def link nasConditional   Conditional
hi def link nasRepeat        Repeat
hi def link nasStatement     Statement
hi def link nasBoolean       Boolean
hi def link nasOperatorWord  Operator
hi def link nasConfig        Keyword
hi def link nasSpecial       Special
hi def link nasNumber        Number
hi def link nasOperator      Operator
hi def link nasEscape        SpecialChar
hi def link nasString        String
hi def link nasTodo          Todo
hi def link nasComment       Comment
hi def link nasDocCode       SpecialComment
hi def link nasDocComment    SpecialComment
hi def link nasBlockComment  Comment

let b:current_syntax = "nas"

let &cpo = s:cpo_save
unlet s:cpo_save
