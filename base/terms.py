"""Namespaces used by jobtrail, as rdflib namespaces.

`JT` is closed: every term must be declared in jobtrail.ttl (a test keeps
the two in step), so a typo is an AttributeError rather than a silent new IRI.
"""

from __future__ import annotations

from rdflib import Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SH, SKOS, XSD, DefinedNamespace

ORE = Namespace("http://www.openarchives.org/ore/terms/")
PREMIS = Namespace("http://www.loc.gov/premis/rdf/v3/")
STATUS = Namespace("https://w3id.org/jobtrail/status/")
HTTP = Namespace("http://www.w3.org/2011/http#")
SCHEMA = Namespace("https://schema.org/")
DC = Namespace("http://purl.org/dc/elements/1.1/")


class JT(DefinedNamespace):
    _NS = Namespace("https://w3id.org/jobtrail/vocab#")
    _fail = True

    AmeJob: URIRef
    digest: URIRef
    previousDigest: URIRef
    logPosition: URIRef
    leafIndex: URIRef
    price: URIRef
    paidBytes: URIRef
    credit: URIRef
    errorType: URIRef
    changedBy: URIRef
    sequence: URIRef
    toPhase: URIRef
    fromPhase: URIRef
    changeKind: URIRef
    Pass: URIRef
    JobChange: URIRef
    Scrub: URIRef
    scrubbed: URIRef
    AsyncEndpoint: URIRef
    BMEssence: URIRef
    Command: URIRef
    Error: URIRef
    JSONLDMessage: URIRef
    Job: URIRef
    JobProfile: URIRef
    Message: URIRef
    Parameter: URIRef
    ParameterSet: URIRef
    ProcessJob: URIRef
    Producer: URIRef
    ProducerRun: URIRef
    RDFMessage: URIRef
    Report: URIRef
    ResourceLocator: URIRef
    ResourceValidation: URIRef
    ResultAggregation: URIRef
    SoftwareVersion: URIRef
    StartJob: URIRef
    StopJob: URIRef
    TREMessage: URIRef
    TRE2022Message: URIRef
    TRE2023Message: URIRef
    HTTPMessage: URIRef
    UUIDEntry: URIRef
    about: URIRef
    McmaRecord: URIRef
    OutgoingCall: URIRef
    OgcSubscriber: URIRef
    ogcSuccessUri: URIRef
    ogcOutputs: URIRef
    ogcFailedUri: URIRef
    ogcInProgressUri: URIRef
    mcmaDocument: URIRef
    startCommand: URIRef
    successEndpoint: URIRef
    failureEndpoint: URIRef
    assignedService: URIRef
    serviceReport: URIRef
    jobAssignments: URIRef
    stopCause: URIRef
    stopCommand: URIRef
    priority: URIRef
    deadline: URIRef
    progress: URIRef
    notificationEndpoint: URIRef
    mcmaDialect: URIRef
    callPurpose: URIRef
    callTarget: URIRef
    callBody: URIRef
    nextAttempt: URIRef
    giveUpAt: URIRef
    attempts: URIRef
    deliveryState: URIRef
    lastStatus: URIRef
    lastProblem: URIRef
    lastAnswer: URIRef
    lastAnswerSize: URIRef
    configuredTarget: URIRef
    SifRecord: URIRef
    SifPhase: URIRef
    SifPhaseState: URIRef
    AccessRight: URIRef
    SifInitialization: URIRef
    SifEnvironment: URIRef
    sifConsumer: URIRef
    sifService: URIRef
    stateDescription: URIRef
    sifTimeout: URIRef
    sifPhase: URIRef
    phaseName: URIRef
    required: URIRef
    accessRight: URIRef
    stateRight: URIRef
    rightType: URIRef
    rightValue: URIRef
    phaseState: URIRef
    stateType: URIRef
    payload: URIRef
    initialization: URIRef
    accessType: URIRef
    addedUUID: URIRef
    asyncEndpoint: URIRef
    byteSize: URIRef
    canonicalPhase: URIRef
    carriesUUID: URIRef
    destruction: URIRef
    environment: URIRef
    error: URIRef
    errorMessage: URIRef
    errorSummary: URIRef
    eventName: URIRef
    executionDuration: URIRef
    executionId: URIRef
    failure: URIRef
    hasRelatedResource: URIRef
    isActive: URIRef
    isFinal: URIRef
    job: URIRef
    jobProfile: URIRef
    jobStatus: URIRef
    key: URIRef
    loadedFrom: URIRef
    location: URIRef
    locator: URIRef
    mediaType: URIRef
    messageId: URIRef
    messageType: URIRef
    messageVersion: URIRef
    numberOfRetries: URIRef
    originalBase64: URIRef
    originalText: URIRef
    originator: URIRef
    outputFile: URIRef
    owner: URIRef
    parameter: URIRef
    parameterOwner: URIRef
    parameterSet: URIRef
    parentExecutionId: URIRef
    parentMessageId: URIRef
    phase: URIRef
    position: URIRef
    process: URIRef
    producerName: URIRef
    producerType: URIRef
    quote: URIRef
    rawTimestamp: URIRef
    readerNote: URIRef
    reference: URIRef
    report: URIRef
    resource: URIRef
    resourceType: URIRef
    resourceValidation: URIRef
    result: URIRef
    runId: URIRef
    sha256: URIRef
    softwareName: URIRef
    softwareVersion: URIRef
    startJob: URIRef
    statusValue: URIRef
    stopJobCause: URIRef
    storedAt: URIRef
    submittedBy: URIRef
    success: URIRef
    uuid: URIRef
    uuidEntry: URIRef
    uuidLabel: URIRef
    validationMethod: URIRef
    validationWarning: URIRef
    value: URIRef
    version: URIRef
    OpenLineageEvent: URIRef
    OpenLineageRunEvent: URIRef
    OpenLineageDatasetEvent: URIRef
    OpenLineageJobEvent: URIRef
    OpenLineageRun: URIRef
    OpenLineageJob: URIRef
    OpenLineageDataset: URIRef
    openLineageRun: URIRef
    openLineageJob: URIRef
    openLineageDataset: URIRef
    openLineageRunId: URIRef
    runOf: URIRef
    eventType: URIRef
    eventStatus: URIRef
    lineageNamespace: URIRef
    lineageName: URIRef


PREFIXES: dict[str, str] = {
    "jt": str(JT),
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "xsd": str(XSD),
    "owl": str(OWL),
    "prov": str(PROV),
    "ore": str(ORE),
    "dcterms": str(DCTERMS),
    "skos": str(SKOS),
    "sh": str(SH),
    "premis": str(PREMIS),
    "http": str(HTTP),
    "schema": str(SCHEMA),
    "dc": str(DC),
}
"""Prefixes for serialisations and queries (SPARQL `PREFIX` lines, Turtle `@prefix`)."""


def shorten(iri: str) -> str:
    """`jt:Job` for the jobtrail term, and so on for every prefix above; other IRIs as they are."""
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns):
            return f"{prefix}:{iri[len(ns) :]}"
    return iri


__all__ = [
    "shorten",
    "DCTERMS",
    "HTTP",
    "SCHEMA",
    "DC",
    "JT",
    "ORE",
    "OWL",
    "PREFIXES",
    "PREMIS",
    "PROV",
    "RDF",
    "RDFS",
    "SH",
    "SKOS",
    "STATUS",
    "XSD",
]
