// Starts the vendored Yasgui (see README.md beside this file) on #yasgui,
// talking to one SPARQL endpoint and to no outside service.
//
// The page supplies the configuration as JSON:
//   <script type="application/json" id="yasgui-config">
//     {"endpoint": "/sparql",
//      "queries": [{"name": "Jobs", "query": "SELECT * WHERE { ?s ?p ?o } LIMIT 10"}],
//      "prefixes": {"schema": "https://schema.org/"}}
//   </script>
// "prefixes" is optional; without it prefix autocompletion is off.
(function () {
  "use strict";

  const conf = JSON.parse(document.getElementById("yasgui-config").textContent);
  // Yasgui builds URL objects from the endpoint, so it has to be absolute.
  const endpoint = new URL(conf.endpoint, document.baseURI).href;
  const queries = conf.queries || [];
  const prefixes = conf.prefixes || null;

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
    // No localStorage: stale tabs would otherwise outlive the page's queries.
    persistenceId: null,
    yasqe: {
      prefixCcApi: null,
      createShortLink: undefined,
      consumeShareLink: null,
      persistenceId: null,
    },
    yasr: { persistenceId: null, prefixes: prefixes || {} },
  });

  // The endpoint field still accepts typed URLs; put this endpoint back.
  yasgui.on("tabChange", (_yasgui, tab) => {
    if (tab.getEndpoint() !== endpoint) tab.setEndpoint(endpoint);
  });

  const tabs = queries.length ? queries : [{ name: "Query", query: undefined }];
  tabs.forEach((q, i) => {
    const tab = { name: q.name, requestConfig: { endpoint: endpoint } };
    if (q.query !== undefined) tab.yasqe = { value: q.query };
    yasgui.addTab(i === 0, tab);
  });

  // The share and help buttons are hidden by jobtrail-yasgui.css (an inline
  // <style> would need 'unsafe-inline' in the server's Content-Security-Policy).

  window.jobtrailYasgui = yasgui;
})();
