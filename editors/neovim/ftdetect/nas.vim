" Vim (and Neovim) filetype detection for `.nas` files.
autocmd BufRead,BufNewFile *.nas setfiletype nas
