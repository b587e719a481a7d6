'use strict';
// The official Node CAS SDK (@alicloud/cas20200407 on @alicloud/openapi-core) walking every deployment action
// against a running `certdeploy serve`, as a Node user would call it.
//
// Input (JSON on stdin): endpoint ("127.0.0.1:PORT"), accessKeyId, accessKeySecret, mode ("acs3" or "hmac-sha1"),
// cert/key (PEM of a certificate for *.example.com), spareCert/spareKey (one more, deleted at the end).
// Output (JSON on stdout): {mode, steps: [{step, ok, detail}]}, one entry per step, in order.
//
// Modes: openapi-core signs with ACS3-HMAC-SHA256 unless Config.signatureAlgorithm is "v2", which sends the V1 RPC
// signature (SignatureMethod=HMAC-SHA1 in the query): Client.callApi in openapi-core/dist/client.js.
//
// Every reply of an action the SDK has a typed model for is checked against `<Action>ResponseBody`: each field the
// model declares (static names(), static types(), recursively) that the JSON carries must have the model's JSON type
// and come through the SDK's cast. Actions this SDK version has no method for (CreateContact, UpdateContact,
// DeleteContact, GetMatchedResources, CreateRollbackTask) go through the SDK's generic callApi.

const cas = require('@alicloud/cas20200407');
const { $OpenApiUtil } = require('@alicloud/openapi-core');
const $dara = require('@darabonba/typescript');

const Client = cas.default;
const VERSION = '2020-04-07';
const JOB_TIMEOUT_MS = 30000;

function client(input, overrides = {}) {
  const config = new $OpenApiUtil.Config({
    endpoint: input.endpoint,
    protocol: 'http',
    accessKeyId: input.accessKeyId,
    accessKeySecret: input.accessKeySecret,
    readTimeout: 20000,
    ...(input.mode === 'hmac-sha1' ? { signatureAlgorithm: 'v2' } : {}),
    ...overrides,
  });
  const sdk = new Client(config);
  // Keep the raw reply the typed methods cast from: the JSON as the wire had it, to check the cast against.
  const callApi = sdk.callApi.bind(sdk);
  sdk.callApi = async (...args) => {
    sdk.lastRaw = await callApi(...args);
    return sdk.lastRaw;
  };
  return sdk;
}

function jsonType(value) {
  if (Array.isArray(value)) return 'array';
  return value === null ? 'null' : typeof value;
}

const isModelClass = (type) => typeof type === 'function' && typeof type.names === 'function';

// Problems of `raw` (wire JSON) against model class `clz`, and of `cast` (the SDK's model instance) losing a field.
function modelProblems(clz, raw, cast, path) {
  const problems = [];
  if (jsonType(raw) !== 'object') return [`${path}: expected an object, got ${jsonType(raw)}`];
  const names = clz.names();
  const types = clz.types();
  for (const [property, wire] of Object.entries(names)) {
    const value = raw[wire];
    if (value === undefined || value === null) continue;
    const type = types[property];
    const where = `${path}.${wire}`;
    const kept = cast == null ? undefined : cast[property];
    if (kept === undefined || kept === null) problems.push(`${where}: dropped by the model`);
    problems.push(...valueProblems(type, value, kept, where));
  }
  return problems;
}

function valueProblems(type, value, kept, where) {
  if (isModelClass(type)) return modelProblems(type, value, kept, where);
  if (typeof type === 'string') {
    if (['any', 'map', 'Readable', 'Writable', 'Buffer'].includes(type)) return [];
    return jsonType(value) === type ? [] : [`${where}: the model has ${type}, the reply ${jsonType(value)}`];
  }
  if (type.type === 'array') {
    if (!Array.isArray(value)) return [`${where}: the model has an array, the reply ${jsonType(value)}`];
    return value.flatMap((item, index) =>
      valueProblems(type.itemType, item, Array.isArray(kept) ? kept[index] : undefined, `${where}[${index}]`),
    );
  }
  if (type.type === 'map') return jsonType(value) === 'object' ? [] : [`${where}: the model has a map`];
  return [`${where}: model type ${JSON.stringify(type)} not understood by this check`];
}

class Walk {
  constructor(input) {
    this.input = input;
    this.sdk = client(input);
    this.steps = [];
  }

  record(step, ok, detail) {
    this.steps.push({ step, ok, detail });
    return ok;
  }

  // A typed SDK method: `method` on the client with `Request`; the body checked against `<Action>ResponseBody`.
  async typed(step, action, request) {
    const method = action[0].toLowerCase() + action.slice(1);
    try {
      const response = await this.sdk[method](new cas[`${action}Request`](request));
      const problems = modelProblems(cas[`${action}ResponseBody`], this.sdk.lastRaw.body, response.body, action);
      this.record(step, problems.length === 0, problems.length ? problems : 'ok');
      return this.sdk.lastRaw.body;
    } catch (error) {
      this.record(step, false, `${error.code || error.name}: ${error.message}`);
      return null;
    }
  }

  // An action this SDK has no method for, through its generic callApi (POST form, as its typed methods send).
  async generic(action, query, sdk = this.sdk) {
    const params = new $OpenApiUtil.Params({
      action,
      version: VERSION,
      protocol: 'HTTP',
      pathname: '/',
      method: 'POST',
      authType: 'AK',
      style: 'RPC',
      reqBodyType: 'formData',
      bodyType: 'json',
    });
    const request = new $OpenApiUtil.OpenApiRequest({ query });
    const reply = await sdk.callApi(params, request, new $dara.RuntimeOptions({}));
    return reply.body;
  }

  async genericStep(step, action, query, check = () => []) {
    try {
      const body = await this.generic(action, query);
      const problems = body.RequestId ? check(body) : ['no RequestId', ...check(body)];
      this.record(step, problems.length === 0, problems.length ? problems : 'ok');
      return body;
    } catch (error) {
      this.record(step, false, `${error.code || error.name}: ${error.message}`);
      return null;
    }
  }

  // A call that must be refused with `code` and HTTP `status`, in the CAS error format.
  async refused(step, call, status, code, messageHas = '') {
    try {
      await call();
      return this.record(step, false, `answered, expected ${status} ${code}`);
    } catch (error) {
      const data = error.data || {};
      const problems = [];
      if (error.statusCode !== status) problems.push(`HTTP ${error.statusCode}, expected ${status}`);
      if (error.code !== code) problems.push(`code ${error.code}, expected ${code}`);
      for (const field of ['Code', 'Message', 'RequestId']) if (!data[field]) problems.push(`no ${field} in the error`);
      if (!String(data.Message).includes(messageHas)) problems.push(`message ${data.Message} lacks ${messageHas}`);
      return this.record(step, problems.length === 0, problems.length ? problems : `${status} ${code}`);
    }
  }

  async waitFor(step, what, probe) {
    const deadline = Date.now() + JOB_TIMEOUT_MS;
    for (;;) {
      const seen = await probe();
      if (seen.done) return this.record(step, true, seen.detail);
      if (Date.now() > deadline) return this.record(step, false, `${what} not reached: ${seen.detail}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async run() {
    const input = this.input;
    const cert = await this.typed('upload certificate', 'UploadUserCertificate', {
      name: `node-${input.mode}`, cert: input.cert, key: input.key,
    });
    const spare = await this.typed('upload a spare certificate', 'UploadUserCertificate', {
      name: `node-${input.mode}-spare`, cert: input.spareCert, key: input.spareKey,
    });
    if (!cert || !spare) return;
    const certId = cert.CertId;
    await this.typed('certificate detail', 'GetUserCertificateDetail', { certId });
    await this.typed('certificate list', 'ListUserCertificateOrder', { orderType: 'UPLOAD' });

    const alice = await this.genericStep('create contact', 'CreateContact', {
      Name: 'alice', Mobile: '13800001234', Email: 'alice@example.com',
    });
    const bob = await this.genericStep('create a second contact', 'CreateContact', { Name: 'bob', Mobile: '13800005678' });
    await this.genericStep('update contact', 'UpdateContact', { ContactId: String(bob.ContactId), Name: 'robert' });
    const contacts = await this.typed('list contacts', 'ListContact', {});
    const names = contacts ? contacts.ContactList.map((contact) => contact.Name).sort() : [];
    this.record('contacts listed as updated', names.join() === 'alice,robert', names);
    await this.genericStep('delete contact', 'DeleteContact', { ContactId: String(bob.ContactId) });

    const resources = await this.typed('list resources', 'ListCloudResources', { showSize: 100 });
    const ids = resources.Data.map((resource) => resource.Id);
    await this.typed('resources of the certificate', 'ListCloudResources', { certIds: [certId], showSize: 100 });
    const matched = await this.genericStep('matched resources', 'GetMatchedResources', {
      CertIds: String(certId), MaxResults: '100',
    }, (body) => (Array.isArray(body.Data) && body.Data.length > 0 ? [] : ['no matched resource']));
    await this.typed('resource counts', 'DescribeCloudResourceStatus', {});
    await this.typed('cloud access list', 'ListCloudAccess', {});
    await this.typed('package state', 'DescribePackageState', { productCode: 'digicert-free-1-free' });

    const created = await this.typed('create job', 'CreateDeploymentJob', {
      name: 'node walk', jobType: 'user', certIds: String(certId), resourceIds: ids.join(','),
      contactIds: String(alice.ContactId),
    });
    const jobId = created.JobId;
    const preview = await this.typed('preview', 'DescribeDeploymentJobStatus', { jobId });
    this.record('preview counts the matches', preview.WorkerCount === matched.Data.length, preview);
    // An hour from now: the job then waits as `pending` until taken back to editing and resubmitted to run now.
    const later = Date.now() + 3600 * 1000;
    await this.typed('update job', 'UpdateDeploymentJob', { jobId, name: 'node walk, renamed', scheduleTime: later });
    await this.typed('job resources', 'ListDeploymentJobResource', { jobId });
    await this.typed('job certificates', 'ListDeploymentJobCert', { jobId });
    await this.typed('submit for later (pending)', 'UpdateDeploymentJobStatus', { jobId, status: 'pending' });
    await this.typed('pending back to editing', 'UpdateDeploymentJobStatus', { jobId, status: 'editing' });
    const editing = await this.typed('job is editing again', 'DescribeDeploymentJob', { jobId });
    this.record('status after pending→editing', editing.Status === 'editing', editing.Status);
    await this.typed('resubmit now', 'UpdateDeploymentJobStatus', { jobId, status: 'scheduling' });
    await this.waitFor('job finished', 'success', async () => {
      const job = await this.typed('poll job', 'DescribeDeploymentJob', { jobId });
      const counts = await this.typed('poll status', 'DescribeDeploymentJobStatus', { jobId });
      const finished = counts.SuccessCount + counts.FailedCount === counts.WorkerCount;
      return { done: job.Status === 'success' && finished, detail: `${job.Status}, ${counts.SuccessCount} ok` };
    });
    await this.typed('list jobs', 'ListDeploymentJob', {});
    const workers = await this.typed('list workers', 'ListWorkerResource', { jobId, showSize: 100 });
    const sae = workers.Data.find((worker) => worker.CloudProduct === 'SAE');
    this.record('SAE worker has its namespace', sae && sae.NamespaceId === input.saeNamespace, sae);
    const [first, second] = workers.Data;
    await this.genericStep('rollback a worker (CreateRollbackTask)', 'CreateRollbackTask', {
      JobId: String(jobId), WorkerId: String(first.Id),
    });
    await this.typed('rollback a worker (UpdateWorkerResourceStatus)', 'UpdateWorkerResourceStatus', {
      jobId, workerId: second.Id, status: 'rollback',
    });
    await this.waitFor('rollbacks finished', 'rollback_success', async () => {
      const listed = await this.typed('poll workers', 'ListWorkerResource', { jobId, showSize: 100 });
      const rolled = listed.Data.filter((worker) => worker.Status === 'rollback_success').length;
      return { done: rolled === 2, detail: `${rolled} rolled back` };
    });
    await this.typed('delete job', 'DeleteDeploymentJob', { jobId });

    const draft = await this.typed('create a draft job', 'CreateDeploymentJob', {
      name: 'node draft', jobType: 'user', certIds: String(certId), resourceIds: ids.join(','),
    });
    const draftWorkers = await this.typed('draft workers', 'ListWorkerResource', { jobId: draft.JobId });
    await this.typed('drop a worker', 'DeleteWorkerResource', { jobId: draft.JobId, workerId: draftWorkers.Data[0].Id });
    await this.typed('delete the draft', 'DeleteDeploymentJob', { jobId: draft.JobId });
    await this.typed('delete the spare certificate', 'DeleteUserCertificate', { certId: spare.CertId });

    await this.errors();
  }

  async errors() {
    const input = this.input;
    const wrongSecret = client(input, { accessKeySecret: 'not-the-secret' });
    // The server's string to sign shows which signature it checked: V1 (HMAC-SHA1) or ACS3.
    const signed = input.mode === 'hmac-sha1' ? 'string to sign is:POST&%2F&' : 'string to sign is:ACS3-HMAC-SHA256\n';
    await this.refused('bad signature', () => wrongSecret.listContact(new cas.ListContactRequest({})),
      400, 'SignatureDoesNotMatch', signed);
    const unknownKey = client(input, { accessKeyId: 'LTAI-unknown-key' });
    await this.refused('unknown AccessKeyId', () => unknownKey.listContact(new cas.ListContactRequest({})),
      404, 'InvalidAccessKeyId.NotFound');
    await this.refused('missing parameter', () => this.generic('DescribeDeploymentJob', {}),
      400, 'MissingParameter');
    await this.refused('bad parameter', () => this.generic('DescribeDeploymentJob', { JobId: 'seven' }),
      400, 'InvalidParameter.JobId');
    await this.refused('bad status', () => this.sdk.updateDeploymentJobStatus(
      new cas.UpdateDeploymentJobStatusRequest({ jobId: 1, status: 'finished' })), 400, 'InvalidParameter.Status');
    await this.refused('unknown job', () => this.sdk.describeDeploymentJob(
      new cas.DescribeDeploymentJobRequest({ jobId: 987654321 })), 404, 'NotFound');
    await this.refused('unknown certificate', () => this.sdk.getUserCertificateDetail(
      new cas.GetUserCertificateDetailRequest({ certId: 987654321 })), 404, 'InvalidCertId.NotFound');
    await this.refused('unknown certificate in a job', () => this.sdk.createDeploymentJob(
      new cas.CreateDeploymentJobRequest({ name: 'x', jobType: 'user', certIds: '987654321', resourceIds: '1' })),
      404, 'InvalidCertId.NotFound');
    await this.refused('unknown contact', () => this.generic('DeleteContact', { ContactId: '987654321' }),
      404, 'InvalidContactId.NotFound');
    await this.refused('no package to apply from', () => this.sdk.createCertificateForPackageRequest(
      new cas.CreateCertificateForPackageRequestRequest({ productCode: 'digicert-free-1-free', domain: 'a.example.com' })),
    400, 'QuotaExceeded');
    await this.refused('unknown certificate order', () => this.sdk.describeCertificateState(
      new cas.DescribeCertificateStateRequest({ orderId: 987654321 })), 404, 'NotFound');
    await this.refused('unknown action', () => this.generic('DescribeNothing', {}), 404, 'InvalidApi.NotFound');
  }
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const walk = new Walk(input);
  try {
    await walk.run();
  } catch (error) {
    walk.record('walk', false, `stopped: ${error.stack || error}`);
  }
  process.stdout.write(`${JSON.stringify({ mode: input.mode, steps: walk.steps }, null, 1)}\n`);
}

main();
