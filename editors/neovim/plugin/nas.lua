-- nasc for Neovim (0.10 or later): the `nas` filetype for `*.nas` files, comment settings,
-- and the language server `nasc lsp` over stdio for every `nas` buffer. Put this folder on
-- the runtimepath (it then also finds `syntax/nas.vim`), or copy this file into
-- `~/.config/nvim/plugin/`. Set `vim.g.nasc_path` before it loads to use a `nasc` that
-- is not on PATH.

if vim.g.loaded_nasc then
  return
end
vim.g.loaded_nasc = true

vim.filetype.add({ extension = { nas = "nas" } })

--- The directory the server treats as the workspace: the nearest one holding `.git`,
--- else the file's own directory (imports resolve next to the importing file).
local function root_dir(buf)
  local name = vim.api.nvim_buf_get_name(buf)
  local git = vim.fs.find(".git", { path = vim.fs.dirname(name), upward = true })[1]
  return git and vim.fs.dirname(git) or vim.fs.dirname(name)
end

vim.api.nvim_create_autocmd("FileType", {
  group = vim.api.nvim_create_augroup("nasc", { clear = true }),
  pattern = "nas",
  callback = function(args)
    local bo = vim.bo[args.buf]
    bo.commentstring = "// %s"
    bo.comments = "s1:/*,mb:*,ex:*/,:///,://"
    bo.expandtab = true
    bo.shiftwidth = 4
    bo.softtabstop = 4
    if bo.buftype ~= "" then
      return
    end
    -- One client per root: `vim.lsp.start` reuses a running `nasc` with the same name and
    -- root directory instead of starting another.
    vim.lsp.start({
      name = "nasc",
      cmd = { vim.g.nasc_path or "nasc", "lsp" },
      root_dir = root_dir(args.buf),
    }, { bufnr = args.buf })
  end,
})

-- The same server in the style of Neovim 0.11 and later, instead of the autocommand above
-- (the filetype registration and the comment settings stay as they are):
--
--   vim.lsp.config("nasc", {
--     cmd = { "nasc", "lsp" },
--     filetypes = { "nas" },
--     root_markers = { ".git" },
--   })
--   vim.lsp.enable("nasc")
