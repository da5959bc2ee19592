// Starts the vendored Yasgui (see README.md beside this file) on #yasgui,
// talking to one SPARQL endpoint and to no outside service.
//
// The page supplies the configuration as JSON:
//   <script type="application/json" id="yasgui-config">
//     {"endpoint": "/sparql",
//      "queries": [{"name": "stats", "description": "…", "sparql": "SELECT …",
//                   "parameters": [{"name": "producer", "type": "string",
//                                   "required": false, "description": "…",
//                                   "example": "…"}]}],
//      "prefixes": {"schema": "https://schema.org/"},
//      "query": "SELECT * WHERE { ?s ?p ?o } LIMIT 10"}
//   </script>
// "queries" are the named queries as GET /queries describes them; "prefixes" is
// optional (without it prefix autocompletion is off); "query" fills the first tab.
//
// Tabs:
// - Tabs and their edits persist in localStorage, under a key naming the endpoint.
// - A named query's tab (id "named-NAME") shows a form for its parameters (type,
//   required or not, from "parameters") above its SPARQL, which is read-only; it
//   runs at the named query's own URL, /queries/NAME?param=value, never as text.
// - The page's fragment opens a tab: #named=NAME&param=value… a named query with
//   those values (run at once when every required one is given), #query=TEXT&tab=TITLE
//   a query (not run). "Copy link to this tab" makes
//   such a link for the tab shown.
(function () {
  "use strict";

  const conf = JSON.parse(document.getElementById("yasgui-config").textContent);
  // Yasgui builds URL objects from the endpoint, so it has to be absolute.
  const endpoint = new URL(conf.endpoint, document.baseURI).href;
  const queries = conf.queries || [];
  const byName = new Map(queries.map((q) => [q.name, q]));
  const prefixes = conf.prefixes || null;
  const NAMED = "named-";
  // One key per endpoint: a page of another server (or another endpoint) on the
  // same origin keeps its own tabs.
  const persistenceKey = "jobtrail-yasgui " + endpoint;

  const Yasgui = window.Yasgui;
  const Yasqe = Yasgui.Yasqe;

  // The stock "property" and "class" completers query lov.linkeddata.es, and
  // "prefixes" can fetch from prefixCcApi; keep only local completers.
  const completers = ["variables"];
  if (prefixes) {
    Yasqe.forkAutocompleter("prefixes", {
      name: "jobtrailPrefixes",
      persistenceId: null,
      get: Object.keys(prefixes).sort().map((p) => `${p}: <${prefixes[p]}>`),
    }, false);
    completers.push("jobtrailPrefixes");
  }
  // Set on the shared defaults: Yasgui merges config arrays index by index
  // (lodash merge), so a shorter list passed in the config would not shrink it.
  Yasqe.defaults.autocompleters = completers;

  const yasgui = new Yasgui(document.getElementById("yasgui"), {
    requestConfig: { endpoint: endpoint },
    endpointCatalogueOptions: { getData: () => [{ endpoint: endpoint }], keys: [] },
    corsProxy: undefined,
    copyEndpointOnNewTab: false,
    populateFromUrl: false,
    autoAddOnInit: false,
    persistenceId: persistenceKey,
    yasqe: {
      prefixCcApi: null,
      createShortLink: undefined,
      consumeShareLink: null,
      persistenceId: null,
    },
    yasr: { persistenceId: null, prefixes: prefixes || {} },
  });

  // --- named queries ------------------------------------------------------------

  function namedOf(tab) {
    const id = tab ? tab.getId() : "";
    return id.startsWith(NAMED) ? byName.get(id.slice(NAMED.length)) || null : null;
  }

  function namedUrl(q) {
    return new URL("/queries/" + encodeURIComponent(q.name), document.baseURI).href;
  }

  function make(tag, props, ...children) {
    const el = document.createElement(tag);
    Object.assign(el, props || {});
    el.append(...children);
    return el;
  }

  // The parameter values a tab keeps (in its request config, so Yasgui persists them).
  function valuesOf(tab) {
    const args = tab.getRequestConfig().args;
    return Array.isArray(args) ? args.map((a) => [a.name, a.value]) : [];
  }

  function keepValues(tab, values) {
    tab.setRequestConfig({ args: values.map(([name, value]) => ({ name, value })) });
  }

  function field(q, p, value) {
    const id = `jt-param-${q.name}-${p.name}`;
    const label = make("label", { htmlFor: id },
      make("code", { textContent: p.name }), " ",
      make("span", { className: "muted", textContent: `(${p.type}, ${p.required ? "required" : "optional"})` }));
    if (p.required) label.append(" ", make("abbr", { className: "required", title: "required", textContent: "*" }));
    let control;
    if (p.type === "boolean") {
      control = make("select", {},
        make("option", { value: "", textContent: p.required ? "choose" : "(any)" }),
        make("option", { value: "true", textContent: "true" }),
        make("option", { value: "false", textContent: "false" }));
    } else {
      control = make("input", {
        type: p.type === "integer" ? "number" : "text",
        size: 48,
        placeholder: p.example || "",
      });
    }
    Object.assign(control, { id, name: p.name, required: !!p.required });
    // defaultValue and defaultSelected: the value shows in the page's markup too.
    if (p.type === "boolean") {
      for (const o of control.options) o.defaultSelected = o.value === (value || "");
    } else {
      control.defaultValue = value || "";
    }
    control.dataset.type = p.type;
    return make("p", { className: "jt-param" }, label, make("br"), control, " ",
      make("span", { className: "muted", textContent: p.description || "" }));
  }

  function formOf(tab) {
    return tab.rootEl ? tab.rootEl.querySelector("form.jt-named") : null;
  }

  function formValues(form) {
    return Array.from(new FormData(form).entries()).map(([k, v]) => [k, String(v)]);
  }

  // The form above a named query's editor; its Run (and the editor's own run
  // button, and Ctrl+Enter) query /queries/NAME with the form's values.
  function decorate(tab) {
    const q = namedOf(tab);
    if (!q || !tab.getYasqe()) return;
    const yasqe = tab.getYasqe();
    if (yasqe.getValue() !== q.sparql) yasqe.setValue(q.sparql);
    if (!yasqe.jobtrailNamed) {
      yasqe.jobtrailNamed = true;
      yasqe.setOption("readOnly", true);
      yasqe.query = () => runNamed(tab);
      // Yasr's "try query in a new browser window" (after an error): the named query's page
      const yasr = tab.getYasr();
      if (yasr) yasr.config.getPlainQueryLinkToEndpoint = () => runUrl(q, valuesOf(tab));
    }
    if (tab.getEndpoint() !== namedUrl(q)) tab.setEndpoint(namedUrl(q));
    const kept = new Map(valuesOf(tab));
    let form = formOf(tab);
    if (form) {
      for (const p of q.parameters) form.elements[p.name].value = kept.get(p.name) || "";
      return;
    }
    const link = make("a", { href: namedUrl(q), textContent: "/queries/" + q.name });
    const copy = make("button", { type: "button", className: "jt-copy", textContent: "Edit a copy" });
    form = make("form", { className: "jt-named", noValidate: false },
      make("p", { className: "jt-about" }, q.description + " Runs as ", link, "."),
      ...(q.parameters.length
        ? q.parameters.map((p) => field(q, p, kept.get(p.name)))
        : [make("p", { className: "muted", textContent: "This query has no parameters." })]),
      make("p", {}, make("button", { type: "submit", textContent: "Run" }), " ", copy),
      make("div", { className: "jt-error", hidden: true, role: "alert" }),
      make("p", { className: "jt-ran muted", hidden: true }));
    form.dataset.query = q.name;
    form.addEventListener("input", () => keepValues(tab, formValues(form)));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      runNamed(tab);
    });
    copy.addEventListener("click", () => {
      yasgui.addTab(true, { name: q.name + " (copy)", yasqe: { value: q.sparql }, requestConfig: { endpoint: endpoint } });
    });
    tab.controlBarEl.after(form);
  }

  // The named query's URL with the values given (what Run fetches; in a browser, its page).
  function runUrl(q, values) {
    const given = new URLSearchParams(values.filter(([, v]) => v.trim() !== ""));
    return namedUrl(q) + (given.toString() ? "?" + given : "");
  }

  async function runNamed(tab) {
    const q = namedOf(tab);
    const form = formOf(tab);
    if (!q || !form || !form.reportValidity()) return;
    const values = formValues(form);
    keepValues(tab, values);
    const url = runUrl(q, values);
    const box = form.querySelector(".jt-error");
    const started = performance.now();
    let status = 0, text = "", type = "";
    try {
      const res = await fetch(url, { headers: { Accept: "application/sparql-results+json" } });
      status = res.status;
      type = res.headers.get("content-type") || "";
      text = await res.text();
    } catch (e) {
      text = String(e);
    }
    const took = Math.round(performance.now() - started);
    const ran = form.querySelector(".jt-ran");
    const page = new URL(url);
    ran.replaceChildren("Ran ", make("a", { href: page.pathname + page.search, textContent: page.pathname + page.search }),
      ` (${took} ms, HTTP ${status})`);
    ran.hidden = false;
    if (status >= 200 && status < 300) {
      box.hidden = true;
      box.textContent = "";
      tab.getYasr().setResponse({ data: text, contentType: type, status: status, executionTime: took });
      return;
    }
    let message = text;
    try {
      const problem = JSON.parse(text);
      message = [problem.detail || problem.title, problem.hint].filter(Boolean).join(" — ");
    } catch (e) { /* not problem+json: the text as it came */ }
    box.textContent = message || `HTTP ${status}`;
    box.hidden = false;
    tab.getYasr().setResponse({ error: { status: status, text: message } });
  }

  // --- tabs from the fragment, links to tabs ------------------------------------

  function openNamed(name, values) {
    const q = byName.get(name);
    if (!q) return;
    const id = NAMED + name;
    let tab = yasgui.getTab(id);
    if (!tab) {
      tab = yasgui.addTab(true, {
        id: id,
        name: q.name,
        yasqe: { value: q.sparql },
        requestConfig: { endpoint: namedUrl(q) },
      });
    } else {
      yasgui.selectTabId(id);
    }
    if (values.length) keepValues(tab, values.filter(([k]) => q.parameters.some((p) => p.name === k)));
    decorate(tab);
    // A link that gives every required value shows the results at once.
    const form = formOf(tab);
    if (form && form.checkValidity()) runNamed(tab);
  }

  function openQuery(text, title) {
    yasgui.addTab(true, {
      name: title || "Shared query",
      yasqe: { value: text },
      requestConfig: { endpoint: endpoint },
    }, { avoidDuplicateTabs: true });
  }

  function fromFragment() {
    if (location.hash.length < 2) return;
    const params = new URLSearchParams(location.hash.slice(1));
    if (params.has("named")) {
      openNamed(params.get("named"), Array.from(params.entries()).filter(([k]) => k !== "named"));
    } else if (params.has("query")) {
      openQuery(params.get("query"), params.get("tab"));
    } else {
      return;
    }
    // Opened: the address goes back to the page, so a reload does not open it again.
    history.replaceState(null, "", location.pathname + location.search);
  }

  function linkTo(tab) {
    const q = namedOf(tab);
    const link = new URL(location.pathname, location.href);
    const params = q
      ? new URLSearchParams([["named", q.name], ...valuesOf(tab).filter(([, v]) => v.trim() !== "")])
      : new URLSearchParams([["query", tab.getQuery()], ["tab", tab.getName()]]);
    link.hash = params.toString();
    return link.href;
  }

  // The endpoint field still accepts typed URLs; put this endpoint back (a
  // named query's tab: its own URL).
  yasgui.on("tabChange", (_yasgui, tab) => {
    const q = namedOf(tab);
    const want = q ? namedUrl(q) : endpoint;
    if (tab.getEndpoint() !== want) tab.setEndpoint(want);
  });
  yasgui.on("tabSelect", (_yasgui, id) => decorate(yasgui.getTab(id)));

  if (!yasgui.persistentConfig.getTabs().length && !/^#(named|query)=/.test(location.hash)) {
    const tab = { name: "Query", requestConfig: { endpoint: endpoint } };
    if (conf.query !== undefined) tab.yasqe = { value: conf.query };
    yasgui.addTab(true, tab);
  }
  fromFragment();
  decorate(yasgui.getTab());
  window.addEventListener("hashchange", fromFragment);

  const share = document.getElementById("share-button");
  if (share) {
    const linkField = document.getElementById("share-link");
    const said = document.getElementById("share-status");
    share.parentElement.hidden = false;
    share.addEventListener("click", async () => {
      const tab = yasgui.getTab();
      if (!tab) return;
      linkField.value = linkTo(tab);
      linkField.hidden = false;
      linkField.select();
      try {
        await navigator.clipboard.writeText(linkField.value);
        said.textContent = "Copied.";
      } catch (e) {
        said.textContent = "Copy the selected link.";
      }
    });
  }

  // The share and help buttons are hidden by jobtrail-yasgui.css (an inline
  // <style> would need 'unsafe-inline' in the server's Content-Security-Policy).

  window.jobtrailYasgui = yasgui;
})();
