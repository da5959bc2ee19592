// Drives EBU's @mcma/client ResourceManager against a jobtrail server (test_client.py).
// Usage: node drive.js <service registry URL> <input URL> <sha256 of the input>
// Prints one JSON line: what the client saw.
"use strict";
const { ResourceManager, AuthProvider } = require("@mcma/client");
const { JobProfile, QAJob, JobParameterBag, Locator, JobStatus } = require("@mcma/core");

async function main() {
    const [registry, inputUrl, digest] = process.argv.slice(2);
    const resourceManager = new ResourceManager({ serviceRegistryUrl: registry }, new AuthProvider());

    const profiles = await resourceManager.query(JobProfile, { name: "Fixity" });
    const profile = profiles[0];

    const created = await resourceManager.create(new QAJob({
        jobProfileId: profile.id,
        jobInput: new JobParameterBag({
            inputFile: new Locator({ url: inputUrl }),
            algorithm: "sha256",
            expected: digest,
        }),
    }));

    let job = created;
    for (let i = 0; i < 150 && ![JobStatus.Completed, JobStatus.Failed, JobStatus.Canceled].includes(job.status); i++) {
        await new Promise(resolve => setTimeout(resolve, 200));
        job = await resourceManager.get(created.id);
    }

    let deleted = null;
    try {
        await resourceManager.delete(job);
        deleted = "ok";
    } catch (error) {
        deleted = String(error && error.message);
    }

    console.log(JSON.stringify({
        profiles: profiles.map(p => p.name),
        profileId: profile.id,
        createdStatus: created.status,
        id: created.id,
        status: job.status,
        jobOutput: job.jobOutput,
        deleted,
    }));
}

main().catch(error => {
    console.error(error && error.stack ? error.stack : error);
    if (error && error.cause) {
        console.error("caused by:", error.cause.stack || error.cause);
    }
    process.exit(1);
});
