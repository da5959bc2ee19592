"""Who may see what: the one visibility policy every read goes through.

Callers (`Viewer`):

    anonymous   no credentials
    user        HTTP Basic, one of the `users`
    pass        `?pass=`, one of the `passes`
    producer    a producer credential (`producers`), as Bearer
    curator     a user named in `curators`: reads everything, for curation and audit
    admin       the admin token (Bearer, or a Basic password)

What belongs to whom (`Policy.owners_of`):

- A job belongs to its owner (a user, or a pass as `pass:…`) or to nobody (an
  anonymous job). The owner is read from the job's creation record (the
  `created` change, sealed, written by the server: `jt:changedBy`), which
  outlives the job, so a deleted job's history stays its owner's.
- Everything about a job belongs with it: its state graph `{base}jobs/{id}` and every
  graph under that IRI (results, result files, MCMA's and SIF's side graphs), and every
  graph whose own node says it is `jt:about` the job (its change records, the HTTP hops
  of every binding, outbox calls, MCMA commands). Only the server writes such a
  statement: a message's node is named by the hash of its bytes, which its bytes cannot
  contain.
- A pass's balance, `{base}passes/{digest}`, belongs to the pass.
- A scrub record (`jt:Scrub`, `jobtrail scrub`) lists records of every owner: it belongs to
  the store (`STORE`), which only curators and the admin read.
- Everything else (messages producers post or `jobtrail load` reads, producers, the
  vocabulary) is provenance: nobody's job.

Who sees it (`Policy.may_see`):

- curators and the admin: everything;
- anyone else: their own jobs, anonymous jobs (while anonymous jobs are allowed) and
  provenance;
- with `read_login` on, an anonymous caller reads nothing but the home page, `/health`
  and the definitions (vocabulary, shapes, contexts): a 401 asks for credentials.

A SPARQL query sees a whole dataset, so `/sparql` and the named queries answer a caller
over the whole store only when the caller may see all of it (`Policy.sees_whole_store`):
curators and the admin always, anyone else while the store holds nothing private —
no job with an owner, no pass balance. Otherwise they are refused with 403 naming
the way in (README, "Security").
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import pyoxigraph as ox
from jobtrail.base import nt
from jobtrail.base.errors import Forbidden, Unauthorized
from jobtrail.base.terms import JT
from jobtrail.store import Store

_J = str(JT)
_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
_SCRUB = ox.NamedNode(f"{_J}Scrub")
ANONYMOUS_LABEL = "anonymous"  # `jt:changedBy` of a job made without credentials


class Role(StrEnum):
    ANONYMOUS = "anonymous"
    USER = "user"
    PASS = "pass"
    PRODUCER = "producer"
    CURATOR = "curator"
    ADMIN = "admin"


@dataclass(frozen=True)
class Viewer:
    """Who reads: a role, and the owner label of the jobs they own (a user's name,
    a pass's `pass:…`), or a producer's label."""

    role: Role = Role.ANONYMOUS
    name: str | None = None

    @property
    def sees_all(self) -> bool:
        return self.role in (Role.CURATOR, Role.ADMIN)

    @property
    def label(self) -> str:
        """Who acts, as a change records it (`jt:changedBy`): a name, `admin`, a producer's
        label, or `anonymous`."""
        return self.name or ANONYMOUS_LABEL

    @property
    def owner(self) -> str | None:
        """The owner label jobs made by this viewer carry (None: anonymous, or not an owner)."""
        return self.name if self.role in (Role.USER, Role.PASS, Role.CURATOR) else None


ANONYMOUS_VIEWER = Viewer()
STORE = "store:"
"""The owner of records about the store itself (scrub records): no viewer's label (a user's
name holds no colon, a pass's label is `pass:…`), so only curators and the admin read them."""
PROVENANCE: frozenset[str | None] = frozenset()
"""`owners_of` for what is about no job: provenance, readable by every reader."""

_CREATED = f"""SELECT DISTINCT ?by WHERE {{
  GRAPH ?m {{ ?m <{_J}about> #JOB ; <{_J}changeKind> "created" ; <{_J}changedBy> ?by }}
}}"""
"""The job's IRI is written in (`#JOB`), not substituted: Oxigraph plans a substituted one
from every creation record (55 ms on 10,000 jobs, against 0.1 ms)."""
_STATE_OWNER = f"SELECT ?o ?job WHERE {{ GRAPH ?job {{ ?job <{_J}owner> ?o }} }}"
_ABOUT = f"""SELECT ?job ?g WHERE {{ GRAPH ?g {{
  {{ ?g <{_J}about> ?job }} UNION {{ ?g a <{_J}Scrub> BIND("{STORE}" AS ?job) }}
}} }}"""
_ANY_OWNER = f"ASK {{ GRAPH ?job {{ ?job <{_J}owner> ?o }} }}"
_ANY_PASS = f"ASK {{ GRAPH ?p {{ ?p a <{_J}Pass> }} }}"
_ANY_OWNED_HISTORY = f"""ASK {{
  GRAPH ?m {{ ?m <{_J}changeKind> "created" ; <{_J}changedBy> ?by ; <{_J}about> ?job }}
  FILTER(?by != "{ANONYMOUS_LABEL}")
}}"""


class Policy:
    """The visibility policy of one server (module docstring)."""

    def __init__(
        self,
        store: Store,
        base: str,
        *,
        anonymous_jobs: bool = True,
        read_login: bool = False,
        curators: Iterable[str] = (),
        cache_size: int = 100_000,
    ):
        self.store = store
        self.base = base
        self.curators = frozenset(curators)
        """Users who read everything (the `curators` setting)."""
        self.anonymous_jobs = anonymous_jobs
        """Anonymous jobs are readable by every reader (the `anonymous` setting)."""
        self.read_login = read_login
        self._owners: OrderedDict[str, frozenset[str | None]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._private: bool | None = None  # None: not yet looked at
        self._clean_at: int | None = None  # the store's writes when nothing private was found

    # --- decisions ------------------------------------------------------------

    def may_see(self, viewer: Viewer, owners: Iterable[str | None]) -> bool:
        """May this viewer read what belongs with jobs of these owners (none: provenance)?"""
        if viewer.sees_all:
            return True
        for owner in owners:
            if owner is None:
                if not self.anonymous_jobs:
                    return False
            elif owner != viewer.owner:
                return False
        return True

    def may_change(self, viewer: Viewer, owner: str | None) -> bool:
        """May this viewer change (abort, delete, update) a job of this owner? Its owner, or
        anyone for an anonymous job while anonymous jobs are allowed, and the admin; a
        curator only reads."""
        if viewer.role is Role.ADMIN:
            return True
        return self.may_see(Viewer(Role.USER, viewer.owner), {owner})

    def may_read(
        self, viewer: Viewer, iri: str, triples: Iterable[ox.Triple] | None = None
    ) -> bool:
        """May this viewer read the graph named `iri` (`triples`: what it holds, if read)?"""
        return viewer.sees_all or self.may_see(viewer, self.owners_of(iri, triples))

    def check_reader(self, viewer: Viewer) -> None:
        """401 for an anonymous caller where every read needs a login (`read_login`)."""
        if self.read_login and viewer.role is Role.ANONYMOUS:
            raise Unauthorized(
                "reading here needs a login",
                hint="send HTTP Basic credentials, ?pass=YOUR-PASS, or a Bearer token",
            )

    def refuse(self, viewer: Viewer, what: str) -> Unauthorized | Forbidden:
        """The error for a viewer who may not read `what`: 401 asks an anonymous caller for
        credentials, 403 tells a known one it is someone else's."""
        if viewer.role is Role.ANONYMOUS:
            return Unauthorized(
                f"{what} belongs to someone else",
                hint="send the credentials (or ?pass=) its job was created with",
            )
        return Forbidden(
            f"{what} belongs to someone else",
            hint="only its owner, a curator and the administrator read it",
        )

    # --- ownership --------------------------------------------------------------

    def owners_of(
        self, iri: str, triples: Iterable[ox.Triple] | None = None
    ) -> frozenset[str | None]:
        """The owners of the jobs the graph named `iri` is about: empty for provenance,
        {None} for an anonymous job's, {"ann"} for ann's."""
        iri = iri.split("#", 1)[0]
        jobs_prefix = f"{self.base}jobs/"
        if iri.startswith(jobs_prefix):
            job_id = iri[len(jobs_prefix) :].split("/", 1)[0]
            return self.job_owners(jobs_prefix + job_id) if job_id else PROVENANCE
        passes_prefix = f"{self.base}passes/"
        if iri.startswith(passes_prefix):
            return frozenset({"pass:" + iri[len(passes_prefix) :][:16]})
        if triples is not None:
            node = ox.NamedNode(iri)
            mine = [t for t in triples if t.subject == node]
            about = {
                t.object.value
                for t in mine
                if t.predicate.value == f"{_J}about" and isinstance(t.object, ox.NamedNode)
            }
            if any(t.predicate == _TYPE and t.object == _SCRUB for t in mine):
                about.add(STORE)
        else:
            rows = self.store.query(_ABOUT, substitutions={"g": ox.NamedNode(iri)})
            about = {row["job"].value for row in rows}  # type: ignore[union-attr]
        store = frozenset({STORE}) if STORE in about else frozenset()
        return store | self.owners_of_jobs(about - {STORE})

    def owners_of_jobs(self, jobs: Iterable[str]) -> frozenset[str | None]:
        """The owners of these jobs (IRIs) together: empty for none."""
        owners: set[str | None] = set()
        for job in jobs:
            owners |= self.job_owners(job)
        return frozenset(owners)

    def job_owners(self, job_iri: str) -> frozenset[str | None]:
        """Who owns the job: from its creation record(s), else its state graph; {None} for
        an anonymous job. A job id used twice by two owners is both of theirs."""
        with self._lock:
            found = self._owners.get(job_iri)
            if found is not None:
                self._owners.move_to_end(job_iri)
                return found
        node: dict[str, ox.NamedNode | ox.Literal | ox.BlankNode] = {"job": ox.NamedNode(job_iri)}
        created = _CREATED.replace("#JOB", str(ox.NamedNode(job_iri)))
        labels = {row["by"].value for row in self.store.query(created)}  # type: ignore[union-attr]
        if not labels:
            labels = {row["o"].value for row in self.store.query(_STATE_OWNER, substitutions=node)}  # type: ignore[union-attr]
            if not labels:  # no record and no owner: an anonymous job, or none at all
                labels = {ANONYMOUS_LABEL}
        owners = frozenset(None if label == ANONYMOUS_LABEL else label for label in labels)
        self.remember(job_iri, owners)
        return owners

    def remember(self, job_iri: str, owners: frozenset[str | None]) -> None:
        """Note a job's owners (the job core tells, as it creates one)."""
        with self._lock:
            self._owners[job_iri] = owners
            self._owners.move_to_end(job_iri)
            while len(self._owners) > self._cache_size:
                self._owners.popitem(last=False)
            if owners - {None}:
                self._private = True

    def sparql_filter(self, viewer: Viewer, var: str = "m") -> str:
        """A SPARQL filter keeping only the graphs `?{var}` this viewer may read, among graphs
        named like messages (what is `jt:about` a job): the rule of `may_see`, for queries
        that list many (the `/messages` feed). Empty for one who sees everything."""
        if viewer.sees_all:
            return ""
        allowed = [nt.lit(viewer.owner)] if viewer.owner is not None else []
        if self.anonymous_jobs:
            allowed.append(nt.lit(ANONYMOUS_LABEL))
        refused = f"FILTER(?_by NOT IN ({', '.join(allowed)}))" if allowed else ""
        # MINUS over the jobs refused, found first: Oxigraph plans a FILTER NOT EXISTS of the
        # same join without the message bound, scanning every creation record per message
        return f"""MINUS {{ GRAPH ?{var} {{ ?{var} a <{_J}Scrub> }} }}
  MINUS {{
    {{ SELECT DISTINCT ?_job WHERE {{
      {{ GRAPH ?_c {{
        ?_c <{_J}about> ?_job ; <{_J}changeKind> "created" ; <{_J}changedBy> ?_by
      }} }}
      UNION {{ GRAPH ?_job {{ ?_job <{_J}owner> ?_by }} }}
      {refused}
    }} }}
    GRAPH ?{var} {{ ?{var} <{_J}about> ?_job }}
  }}"""

    def job_filter(self, viewer: Viewer, var: str = "job") -> str:
        """A SPARQL filter keeping only the jobs `?{var}` (their IRIs) this viewer may see:
        the rule of `job_owners` and `may_see`, for queries that count or list jobs (the
        home page). Empty for one who sees everything."""
        if viewer.sees_all:
            return ""
        allowed = [nt.lit(viewer.owner)] if viewer.owner is not None else []
        if self.anonymous_jobs:
            allowed.append(nt.lit(ANONYMOUS_LABEL))
        if not allowed:
            return "FILTER(false)"
        labelled = f"""{{ GRAPH ?_c {{
        ?_c <{_J}about> ?{var} ; <{_J}changeKind> "created" ; <{_J}changedBy> ?_by
      }} }}
      UNION {{ GRAPH ?{var} {{ ?{var} <{_J}owner> ?_by }} }}"""
        found = f"""MINUS {{ SELECT DISTINCT ?{var} WHERE {{
      {labelled}
      FILTER(?_by NOT IN ({", ".join(allowed)}))
    }} }}"""
        if not self.anonymous_jobs:  # a job with no record and no owner is anonymous
            found += f"\n  FILTER EXISTS {{ {labelled} }}"
        return found

    # --- the whole store ---------------------------------------------------------

    def decided(self, viewer: Viewer) -> bool:
        """Whether `sees_whole_store` can answer without asking the store (no thread needed)."""
        return viewer.sees_all or bool(self._private) or self._still_clean()

    def _still_clean(self) -> bool:
        """Nothing private was found, and this process's store has not been written since
        (an embedded store counts its writes; a shared one is written by others too)."""
        writes = getattr(self.store, "writes", None)
        return (
            self._private is False
            and not self.store.shared
            and isinstance(writes, int)
            and writes == self._clean_at
        )

    def sees_whole_store(self, viewer: Viewer) -> bool:
        """May this viewer query the whole dataset (SPARQL)? Curators and the admin; anyone
        else only while the store holds nothing private to anyone."""
        return viewer.sees_all or not self.holds_private()

    def holds_private(self) -> bool:
        """Does the store hold a job with an owner (or its history), or a pass's balance?
        Once it does, it always will (a history is never removed)."""
        if self._private:
            return True
        if self._still_clean():
            return False
        writes = getattr(self.store, "writes", None)  # before the look: a write during it counts
        found = bool(self.store.query(_ANY_OWNER)) or bool(self.store.query(_ANY_PASS))
        if not found and self._private is None:  # first look: deleted jobs' histories too
            found = bool(self.store.query(_ANY_OWNED_HISTORY))
        with self._lock:
            self._private = bool(self._private) or found
            self._clean_at = writes if not self._private and isinstance(writes, int) else None
        return found

    def forget(self) -> None:
        """After a change nobody can follow (an admin's SPARQL update): look again."""
        with self._lock:
            self._owners.clear()
            self._private = None

    def check_whole_store(self, viewer: Viewer, what: str = "a SPARQL query") -> None:
        """Refuse a viewer who may not see the whole store: 401 anonymous, 403 known."""
        if self.sees_whole_store(viewer):
            return
        reason = f"{what} sees the whole store, and this store holds jobs private to their owners"
        hint = (
            "SPARQL here is for curators (users named in the curators setting) and the "
            "administrator; your own jobs are at their IRIs, messages at /messages and /trace"
        )
        if viewer.role is Role.ANONYMOUS:
            raise Unauthorized(reason, hint=hint)
        raise Forbidden(reason, hint=hint)
