-- Beside each chapter's notebook download ("[Download ...](../notebooks/NAME.ipynb){download=...}"),
-- a link that opens the same notebook in Google Colab. Colab opens notebooks from GitHub, so the
-- link appears only when `book: repo-url` in _quarto.yml names a GitHub repository; it points at
-- notebooks/NAME.ipynb on `book: repo-branch` (main when unset). Without a repository, pages keep
-- the download link alone: no page links to an address that is not configured.

local colab_base = nil

local function setting(meta, key)
  local book = meta.book
  if book == nil or book[key] == nil then return nil end
  local value = pandoc.utils.stringify(book[key])
  if value == "" then return nil end
  return value
end

local function read_meta(meta)
  local repo = setting(meta, "repo-url")
  if repo == nil then return nil end
  local slug = repo:match("^https://github%.com/([^/]+/[^/#?]+)/?$")
  if slug == nil then return nil end
  slug = slug:gsub("%.git$", "")
  local branch = setting(meta, "repo-branch") or "main"
  colab_base = "https://colab.research.google.com/github/" .. slug .. "/blob/" .. branch .. "/notebooks/"
  return nil
end

local function notebook_name(link)
  if link.attributes["download"] == nil then return nil end
  return link.target:match("^[%./]*notebooks/([%w%._%-]+%.ipynb)$")
end

local function add_colab(inlines)
  if colab_base == nil then return nil end
  local out, changed = pandoc.Inlines{}, false
  for _, el in ipairs(inlines) do
    out:insert(el)
    local name = el.t == "Link" and notebook_name(el) or nil
    if name ~= nil then
      out:extend{pandoc.Space(), pandoc.Str("or"), pandoc.Space(),
                 pandoc.Link("open it in Colab", colab_base .. name)}
      changed = true
    end
  end
  if changed then return out end
  return nil
end

return {
  {Meta = read_meta},
  {Inlines = add_colab},
}
