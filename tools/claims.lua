-- claims.lua: on each page, keep the text of the outcome that the page's own evidence chose.
--
-- A chapter writes every outcome of a measured claim in its prose, as whole sentences:
--
--   [The autoencoder beats PCA at every size.]{claim="sweep-vs-pca" when="all"}
--   [It beats PCA from d = 8 on.]{claim="sweep-vs-pca" when="some"}
--
--   ::: {claim="fc-blur" when="softened"}
--   One or more paragraphs, for the outcome "softened".
--   :::
--
--   []{claim="fc-training" when="converged stopped-early"}   (for these outcomes, say nothing)
--
-- `when` lists one or more outcomes, separated by spaces. The code cells only measure and
-- declare each claim (aebook.claims.Ledger); the chapter's last cell embeds the ledger as
-- <script type="application/json" class="aebook-ledger">, which holds every claim's outcome.
-- This filter reads it, drops the spans and divs of the outcomes that did not happen, and keeps
-- the chosen one with its attributes (data-claim, data-when in HTML), so the page checker
-- (python -m bookkit.claims) can verify every kept sentence against the evidence. It stops the
-- render when the prose names a claim the ledger does not have, or has no text for the outcome
-- that happened: a sentence can never silently disappear.

local MARKER = "aebook-ledger"

-- Stop the render. (Inside Quarto a filter's error() is only logged and the page would be
-- written anyway, without the sentence; a claim without its text must fail the build.)
local function fail(message)
  io.stderr:write("ERROR claims.lua: " .. message .. "\n")
  os.exit(1)
end

local function read_ledgers(doc)
  local outcomes, seen = {}, false
  local function take(text)
    if not text:find(MARKER, 1, true) then
      return
    end
    for json in text:gmatch("<script[^>]-" .. MARKER:gsub("%-", "%%-") .. "[^>]->(.-)</script>") do
      local ledger = pandoc.json.decode(json, false)
      for _, claim in ipairs(ledger.claims or {}) do
        outcomes[claim.id] = claim.outcome
      end
      seen = true
    end
  end
  doc:walk({
    RawBlock = function(el) take(el.text) end,
    RawInline = function(el) take(el.text) end,
  })
  return outcomes, seen
end

local function split_words(text)
  local words = {}
  for word in (text or ""):gmatch("%S+") do
    words[#words + 1] = word
  end
  return words
end

function Pandoc(doc)
  local outcomes, has_ledger = read_ledgers(doc)
  local covered, named = {}, {}

  local function choose(el)
    local id = el.attributes["claim"]
    if id == nil then
      return nil
    end
    if not has_ledger then
      fail("the prose names claim '" .. id .. "', but this page embeds no ledger "
        .. "(end the chapter with a cell showing ledger.summary())")
    end
    local chosen = outcomes[id]
    if chosen == nil then
      fail("the prose names claim '" .. id .. "', which this page's ledger does not have "
        .. "(a typo, or a claim that was never declared)")
    end
    named[id] = true
    local keep = false
    for _, word in ipairs(split_words(el.attributes["when"])) do
      if word == chosen then
        keep = true
      end
    end
    if #split_words(el.attributes["when"]) == 0 then
      fail("a text of claim '" .. id .. "' has no when=\"...\" naming its outcome")
    end
    if not keep then
      return {}
    end
    covered[id] = true
    el.attributes["when"] = chosen
    return el
  end

  doc = doc:walk({ Span = choose, Div = choose })
  for id, _ in pairs(named) do
    if not covered[id] then
      fail("claim '" .. id .. "' came out '" .. outcomes[id] .. "', and the prose has no text "
        .. "for that outcome (add one, or []{claim=\"" .. id .. "\" when=\"" .. outcomes[id]
        .. "\"} to say nothing)")
    end
  end
  return doc
end
