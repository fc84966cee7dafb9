/**
 * `npm run deploy:check`: runs docker-compose.yml without Docker, as far as a machine without a Docker engine
 * can, and fails unless the system it describes works.
 *
 * 1. Reads docker-compose.yml as Compose does (anchors, merge keys, interpolation) with no variable set, and the
 *    Dockerfile: its build stage must get every file the build compiles, its runtime stage's copies and CMD must
 *    exist after `npm run build`, and every compose command may load only production dependencies.
 * 2. Runs each service of our image exactly as compose configures it — entrypoint and command, environment (with
 *    the Dockerfile's ENV, so NODE_ENV=production), user (the image's `node`, uid 1000, when this runs as root) —
 *    as processes of the built dist/. Volumes are directories of a temporary root: a named volume is one directory
 *    shared by the services that mount it, a bind mount is the repository file; each service sees them at their
 *    container paths through a directory of symbolic links, and paths in its command and environment are mapped
 *    to it. Read-only volumes lose their write bits once the init step has filled them.
 * 3. Stands in for the nats and postgres images with a private nats-server (deploy/nats's configuration and the
 *    generated passwords) and a private PostgreSQL (initdb in the temporary root, the generated password, password
 *    authentication), on free loopback ports. Host names of compose services (nats, postgres) are mapped to
 *    127.0.0.1 and those ports by rewriting only the host:port part of URLs (and PGHOST/PGPORT); published service
 *    ports are mapped to free loopback ports. Every mapping is printed.
 * 4. In dependency order (depends_on): init, then NATS and PostgreSQL, bus-setup, then the three services, each
 *    until healthy (its compose healthcheck's /readyz). Then a grant must reach a Secondary: two products
 *    registered and paired, a license granted on the Primary with the operator key the init step created, and
 *    the Secondary's effective licenses polled until it shows.
 *
 * Exit 0 when everything passed, 1 otherwise. Loopback only; everything it started is stopped and its directory
 * removed at the end (also on Ctrl-C).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { startPrivatePostgres, type PrivatePostgres } from '../chaos/private-postgres.js';
import { loadCompose, type ComposeService } from './compose-file.js';
import { checkDockerfile, nonProductionImports, readDockerfile, type Stage } from './image-check.js';
import { parseEnvFile } from './secrets.js';
import { ManagedProcess, freePort, waitUntilHealthy, type ExitStatus, type ProbedProcess } from '#shared/tools';

const TWO_UP = fileURLToPath(new URL('../..', import.meta.url)).replace(/[\\/]$/, '');
const REPO_ROOT = basename(TWO_UP) === 'dist' && !existsSync(join(TWO_UP, 'package.json')) ? dirname(TWO_UP) : TWO_UP;
const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
/** Users of the images: the official Node.js images' `node` is uid/gid 1000. */
const IMAGE_USERS: Record<string, [number, number]> = { root: [0, 0], node: [1000, 1000], '1000': [1000, 1000], '0': [0, 0] };
const SERVICE_APPS = ['pairing', 'licensing', 'sync-agent'];

const started = Date.now();
const say = (line: string) => console.log(`[deploy:check ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}`);

class CheckFailed extends Error {}
const fail = (message: string): never => {
  throw new CheckFailed(message);
};

/** How a process of the check ended, as a shell reports it. */
function exitCodeOf(status: ExitStatus): number {
  return status.code ?? (status.signal ? 128 : 1);
}

/** Waits for a process's HTTP probe; a failure fails the check with the process's last lines. */
async function healthy(target: ProbedProcess, path: string, timeoutMs: number): Promise<void> {
  await waitUntilHealthy([target], { path, timeoutMs, intervalMs: 200, logs: () => target.process.tail() }).catch(
    (error: Error) => fail(error.message),
  );
}

/** Where things live for this run, and how container paths and addresses map to this machine. */
class Sandbox {
  readonly volumes = new Map<string, string>();
  readonly hosts = new Map<string, string>(); // "nats:4222" -> "127.0.0.1:40123"
  private readonly said = new Set<string>();
  constructor(
    readonly root: string,
    readonly workdir: string,
  ) {}

  volume(name: string): string {
    let dir = this.volumes.get(name);
    if (!dir) {
      dir = join(this.root, 'volumes', name);
      mkdirSync(dir, { recursive: true, mode: 0o755 }); // a new Docker volume: root's, 0755
      chmodSync(dir, 0o755);
      this.volumes.set(name, dir);
    }
    return dir;
  }

  /** The service's view of its mounts: <root>/rootfs/<service>/<target> is a link to the volume or bound file. */
  rootfs(service: ComposeService): string {
    const base = join(this.root, 'rootfs', service.name);
    for (const mount of service.mounts) {
      const at = join(base, mount.target);
      mkdirSync(dirname(at), { recursive: true, mode: 0o755 });
      if (!existsSync(at) && !isLink(at))
        symlinkSync(mount.type === 'volume' ? this.volume(mount.source) : join(REPO_ROOT, mount.source), at);
    }
    return base;
  }

  /** A container path as this machine sees it for `service` (unchanged if it is none of the mounts or workdir). */
  path(service: ComposeService, value: string): string {
    if (!value.startsWith('/')) return value;
    const underMount = service.mounts.some(
      (m) => value === m.target || value.startsWith(`${m.target}/`) || m.target.startsWith(`${value}/`),
    );
    if (underMount) return join(this.rootfs(service), value);
    if (value === this.workdir || value.startsWith(`${this.workdir}/`)) return join(REPO_ROOT, relative(this.workdir, value));
    return value;
  }

  /** Says a mapping once. */
  note(line: string): void {
    if (this.said.has(line)) return;
    this.said.add(line);
    say(`  mapped: ${line}`);
  }
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** The command line compose runs: entrypoint and command, with the image's when the service sets none. */
function argvOf(service: ComposeService, image: Stage): string[] {
  if (service.entrypoint) return [...service.entrypoint, ...(service.command ?? [])];
  return [...(image.entrypoint ?? []), ...(service.command ?? image.cmd ?? [])];
}

/** Static checks of the compose file and the image; returns the findings' problems. */
function staticChecks(services: readonly ComposeService[], declaredVolumes: readonly string[], image: Stage): string[] {
  const problems: string[] = [];
  for (const s of services) {
    for (const m of s.mounts)
      if (m.type === 'volume' && !declaredVolumes.includes(m.source))
        problems.push(`${s.name}: volume ${m.source} is not declared`);
    for (const p of s.ports) {
      if (p.hostIp !== '127.0.0.1' && p.hostIp !== '[::1]' && p.hostIp !== '::1')
        problems.push(`${s.name}: port ${p.containerPort} is published on ${p.hostIp || 'every interface'}, not on loopback`);
    }
  }
  const nats = services.find((s) => s.image?.startsWith('nats'));
  if (nats && nats.ports.length > 0)
    say(`  nats is published on ${nats.ports.map((p) => `${p.hostIp}:${p.hostPort}`).join(', ')}`);
  for (const s of services.filter((x) => x.build)) {
    const argv = argvOf(s, image);
    if (argv[0] !== 'node') problems.push(`${s.name}: runs ${JSON.stringify(argv)}, not node`);
    for (const script of argv.filter((a) => a.endsWith('.js'))) {
      const file = join(REPO_ROOT, script);
      if (!existsSync(file)) problems.push(`${s.name}: ${script} does not exist after the build`);
      else
        for (const dependency of nonProductionImports(REPO_ROOT, script))
          problems.push(`${s.name}: ${script} loads ${dependency}, which the image (production dependencies only) lacks`);
    }
    for (const p of s.ports) {
      const probe = s.healthcheck?.join(' ') ?? '';
      if (!probe.includes(`127.0.0.1:${p.containerPort}/readyz`))
        problems.push(`${s.name}: its healthcheck does not probe the published port ${p.containerPort} (/readyz)`);
      if (!Object.entries(s.environment).some(([k, v]) => k.endsWith('_PORT') && v === p.containerPort))
        problems.push(`${s.name}: publishes ${p.containerPort} but no *_PORT variable makes it listen there`);
    }
  }
  return problems;
}

/** The environment compose gives a service of our image, mapped to this machine. */
function environmentOf(service: ComposeService, image: Stage, box: Sandbox, ports: Map<string, number>): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...image.env, ...service.environment };
  for (const [name, value] of Object.entries(env)) {
    if (name === 'PATH') continue;
    let mapped = box.path(service, value);
    if (mapped !== value) box.note(`${service.name} ${name}=${value} → ${mapped}`);
    // host:port of compose services in URLs (nats://nats:4222), only that part.
    mapped = mapped.replace(
      /^([a-z][a-z0-9+.-]*:\/\/(?:[^@/\s]*@)?)([^/:\s,]+):(\d+)/gi,
      (whole, scheme: string, host: string, port: string) => {
        const target = box.hosts.get(`${host}:${port}`);
        if (!target) return whole;
        box.note(`${host}:${port} → ${target} (in ${name} of the services)`);
        return `${scheme}${target}`;
      },
    );
    env[name] = mapped;
  }
  const pgTarget = env.PGHOST ? box.hosts.get(`${env.PGHOST}:${env.PGPORT ?? '5432'}`) : undefined;
  if (pgTarget) {
    box.note(`PGHOST=${env.PGHOST} PGPORT=${env.PGPORT ?? '5432'} → ${pgTarget.replace(':', ' ')}`);
    [env.PGHOST, env.PGPORT] = pgTarget.split(':') as [string, string];
  }
  for (const p of service.ports) {
    const port = ports.get(`${service.name}:${p.containerPort}`)!;
    for (const [name, value] of Object.entries(env))
      if (name.endsWith('_PORT') && value === p.containerPort && name !== 'PGPORT') {
        env[name] = String(port);
        box.note(`${service.name} listens on 127.0.0.1:${port} for its container port ${p.containerPort} (${name})`);
      }
  }
  if (env.HTTP_HOST === '0.0.0.0') {
    env.HTTP_HOST = '127.0.0.1';
    box.note('HTTP_HOST=0.0.0.0 (every interface of the container) → 127.0.0.1');
  }
  return env;
}

/** Runs a service of our image; `args` replace its command (as `docker compose run <service> <args>` does). */
function runApp(
  service: ComposeService,
  image: Stage,
  box: Sandbox,
  ports: Map<string, number>,
  echo: boolean,
  args?: string[],
): ManagedProcess {
  const argv = args ? [...(service.entrypoint ?? image.entrypoint ?? []), ...args] : argvOf(service, image);
  const user = service.user ?? image.user ?? 'root';
  const asRoot = process.getuid?.() === 0;
  const ids = IMAGE_USERS[user];
  if (!ids) fail(`${service.name}: unknown user ${user}`);
  const env = environmentOf(service, image, box, ports);
  const [, ...rest] = argv.map((a) => box.path(service, a));
  return ManagedProcess.start({
    name: service.name,
    args: rest,
    env,
    inherit: [],
    cwd: REPO_ROOT,
    stopGraceMs: 20_000,
    ...(echo ? { onLine: (line: string) => console.log(`    ${service.name} | ${line}`) } : {}),
    ...(asRoot ? { uid: ids![0], gid: ids![1] } : {}),
  });
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) fail(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Services in an order that honours depends_on. */
function dependencyOrder(services: readonly ComposeService[]): ComposeService[] {
  const done: ComposeService[] = [];
  const visit = (s: ComposeService, path: string[]) => {
    if (done.includes(s)) return;
    if (path.includes(s.name)) fail(`depends_on cycle: ${[...path, s.name].join(' → ')}`);
    for (const d of Object.keys(s.dependsOn)) {
      const dependency = services.find((x) => x.name === d);
      if (!dependency) fail(`${s.name} depends on ${d}, which is not a service`);
      visit(dependency!, [...path, s.name]);
    }
    done.push(s);
  };
  for (const s of services) visit(s, []);
  return done;
}

/** What the init step gave each service: its own private key, the others' public ones, files the image's user owns. */
function checkSecrets(services: readonly ComposeService[], image: Stage, box: Sandbox): void {
  const [uid] = IMAGE_USERS[image.user ?? 'root'] ?? [0];
  const asRoot = process.getuid?.() === 0;
  for (const s of services.filter((x) => x.environment.EVENT_KEYS_DIR)) {
    const dir = box.path(s, s.environment.EVENT_KEYS_DIR!);
    const own = SERVICE_APPS.find((a) => s.name === a) ?? s.name;
    const summary: string[] = [];
    for (const source of SERVICE_APPS) {
      const files = existsSync(join(dir, source)) ? readdirSync(join(dir, source)).filter((f) => f.endsWith('.pem')) : [];
      const privates = files.filter((f) => readFileSync(join(dir, source, f), 'utf8').includes('PRIVATE KEY'));
      if (source === own && privates.length === 0) fail(`${s.name}: no private key of its own in ${join(dir, source)}`);
      if (source !== own && privates.length > 0) fail(`${s.name}: holds ${source}'s private key ${privates.join(', ')}`);
      if (files.length === 0) fail(`${s.name}: no key of ${source} in ${join(dir, source)}`);
      summary.push(`${source}: ${source === own ? `${privates.length} private` : `${files.length} public`}`);
      for (const f of files) {
        const st = statSync(join(dir, source, f));
        if (asRoot && st.uid !== uid) fail(`${s.name}: ${join(dir, source, f)} is owned by uid ${st.uid}, not ${uid}`);
        if ((st.mode & 0o077) !== 0) fail(`${s.name}: ${join(dir, source, f)} has mode ${(st.mode & 0o777).toString(8)}`);
      }
    }
    say(`  ${s.name}'s EVENT_KEYS_DIR: ${summary.join(', ')}${asRoot ? `; files owned by uid ${uid}, mode 0600` : ''}`);
  }
}

/** Removes write permission from a volume's files and directories (a read-only mount, as far as modes go). */
function makeReadOnly(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) makeReadOnly(path);
    else chmodSync(path, statSync(path).mode & ~0o222);
  }
  chmodSync(dir, statSync(dir).mode & ~0o222);
}

/** Gives back write permission, so that the directory can be removed by a user other than root. */
function makeWritable(dir: string): void {
  chmodSync(dir, statSync(dir).mode | 0o700);
  for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) makeWritable(join(dir, entry.name));
}

async function startNats(
  service: ComposeService,
  box: Sandbox,
): Promise<{ proc: ManagedProcess; port: number; monitor: number }> {
  const argv = [...(service.entrypoint ?? []), ...(service.command ?? [])];
  const rootfs = box.rootfs(service);
  // The entrypoint sources the generated passwords into nats-server's environment: read the same file.
  const script = argv.find((a) => /\.\s+\S+/.test(a)) ?? '';
  const sourced = /(?:^|&&|;)\s*\.\s+(\S+)/.exec(script)?.[1];
  if (!sourced) fail(`nats: the entrypoint sources no password file (${JSON.stringify(argv)})`);
  const envFile = box.path(service, sourced!);
  const passwords = parseEnvFile(readFileSync(envFile, 'utf8'));
  say(`  nats: environment from ${sourced} (${Object.keys(passwords).join(', ')})`);
  // nats-server's own -c (the entrypoint's shell has one too).
  const configArg = argv[argv.lastIndexOf('-c') + 1];
  if (!configArg || argv.lastIndexOf('-c') < 0 || !configArg.startsWith('/')) fail('nats: no -c <config> in its command');
  const config = box.path(service, configArg!);
  const version = /v(\d+)\.(\d+)/.exec(await output(NATS_SERVER, ['--version']));
  const [major, minor] = [Number(version?.[1] ?? 0), Number(version?.[2] ?? 0)];
  // The config file is a link into the repository: it is replaced (the link, not the file) by a copy in which
  // container paths are mapped like those of the environment, and what this nats-server cannot read is left out.
  let text = readFileSync(config, 'utf8');
  text = text.replace(/^(\s*store_dir\s*[:=]\s*)("?)(\/[^\s"]*)\2/m, (_, key: string, _quote: string, path: string) => {
    const mapped = box.path(service, path);
    box.note(`nats ${configArg} store_dir ${path} → ${mapped}`);
    return `${key}${JSON.stringify(mapped)}`;
  });
  if ((major < 2 || (major === 2 && minor < 10)) && /^\s*sync_interval/m.test(text)) {
    text = text.replace(/^(\s*sync_interval.*)$/m, '# $1   (left out by deploy:check: nats-server < 2.10)');
    say(`  nats-server here is ${version?.[0] ?? 'unknown'}: sync_interval (2.10+) left out of ${configArg} for this run`);
  }
  unlinkSync(config);
  writeFileSync(config, text);
  const [port, monitor] = [await freePort(), await freePort()];
  box.note(`nats listens on 127.0.0.1:${port} (monitor ${monitor}): -a/-p/-m override the container's 0.0.0.0:4222 and 8222`);
  const proc = ManagedProcess.start({
    name: 'nats',
    command: NATS_SERVER,
    args: ['-c', config, '-a', '127.0.0.1', '-p', String(port), '-m', String(monitor)],
    cwd: rootfs,
    env: passwords,
    inherit: ['PATH'],
    stopGraceMs: 20_000,
  });
  const health = service.healthcheck?.find((a) => a.includes('/healthz')) ?? 'http://127.0.0.1:8222/healthz';
  const path = new URL(health).pathname + new URL(health).search;
  await healthy({ name: 'nats-server', url: `http://127.0.0.1:${monitor}`, process: proc }, path, 20_000);
  return { proc, port, monitor };
}

async function startPostgres(service: ComposeService, box: Sandbox): Promise<{ server: PrivatePostgres; password: string }> {
  const user = service.environment.POSTGRES_USER ?? 'postgres';
  const file = service.environment.POSTGRES_PASSWORD_FILE;
  const password = file ? readFileSync(box.path(service, file), 'utf8').trim() : service.environment.POSTGRES_PASSWORD;
  if (!password) fail('postgres: no POSTGRES_PASSWORD_FILE or POSTGRES_PASSWORD');
  const port = await freePort();
  const dir = join(box.root, 'postgres');
  const server = await startPrivatePostgres(dir, port, 'deploy_check');
  // As the image does with a password: the user gets it, and TCP connections must give it (scram-sha-256).
  const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
  await admin.connect();
  try {
    if (user !== 'postgres') await admin.query(`CREATE ROLE ${pg.escapeIdentifier(user)} SUPERUSER LOGIN`);
    await admin.query(`ALTER ROLE ${pg.escapeIdentifier(user)} PASSWORD ${pg.escapeLiteral(password!)}`);
    const hba = (await admin.query<{ hba_file: string }>('SHOW hba_file')).rows[0]!.hba_file;
    // Written by the server's own process (the file belongs to the postgres user).
    await admin.query(
      `COPY (SELECT 'local all all trust' UNION ALL SELECT 'host all all 127.0.0.1/32 scram-sha-256') TO ${pg.escapeLiteral(hba)}`,
    );
    await admin.query('SELECT pg_reload_conf()');
  } finally {
    await admin.end();
  }
  const without = new pg.Client({ host: '127.0.0.1', port, user, database: 'postgres', password: 'not-the-password' });
  const refused = await without.connect().then(
    () => false,
    () => true,
  );
  await without.end().catch(() => undefined);
  if (!refused) fail('postgres: a wrong password was accepted');
  say(`  postgres: user ${user} with the generated password (a wrong one is refused) on 127.0.0.1:${port}`);
  return { server, password: password! };
}

function output(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (c: Buffer) => (text += c.toString()));
    child.stderr.on('data', (c: Buffer) => (text += c.toString()));
    child.once('error', reject);
    child.once('exit', () => resolve(text));
  });
}

async function http(method: string, url: string, key: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as unknown) : null };
}

async function main(): Promise<number> {
  const composeFile = join(REPO_ROOT, 'docker-compose.yml');
  say(`reading ${relative(process.cwd(), composeFile) || composeFile} with no variable set (every one must have a default)`);
  const project = loadCompose(readFileSync(composeFile, 'utf8'), {});
  if (project.warnings.length > 0) fail(`variables without a default:\n  ${project.warnings.join('\n  ')}`);
  const stages = readDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
  const image = stages.at(-1)!;
  say('checking the Dockerfile against the build (tsc --explainFiles, the built dist/)');
  const findings = checkDockerfile(REPO_ROOT, stages);
  for (const note of findings.notes) say(`  ${note}`);
  const problems = [...findings.problems, ...staticChecks(project.services, project.volumes, image)];
  if (problems.length > 0) fail(`the compose file or the Dockerfile is wrong:\n  ${problems.join('\n  ')}`);
  say(
    `  ok: ${project.services.length} services, ${project.volumes.length} volumes; ports on loopback; commands exist and load production dependencies only`,
  );

  const root = mkdtempSync(join(tmpdir(), 'ha-deploy-check-'));
  chmodSync(root, 0o711); // the services run as the image's user and must reach their volumes
  const box = new Sandbox(root, image.workdir);
  const ports = new Map<string, number>();
  const procs: ManagedProcess[] = [];
  let postgres: PrivatePostgres | undefined;
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    say('interrupted: stopping');
    void cleanUp().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let cleaned = false;
  async function cleanUp(): Promise<void> {
    if (cleaned) return;
    cleaned = true;
    await Promise.all(procs.map((p) => p.stop(5_000)));
    await postgres?.dispose();
    for (const dir of box.volumes.values()) if (existsSync(dir)) makeWritable(dir);
    rmSync(root, { recursive: true, force: true });
  }

  try {
    const asRoot = process.getuid?.() === 0;
    say(
      `working directory ${root}; services of our image run as ${asRoot ? `their image user (${image.user ?? 'root'} = uid ${IMAGE_USERS[image.user ?? 'root']?.[0]})` : `uid ${process.getuid?.()} (not root: owners are not checked)`}, cwd = the repository (the image's ${image.workdir}), node = ${process.execPath}`,
    );
    for (const s of project.services)
      for (const p of s.ports) if (s.build) ports.set(`${s.name}:${p.containerPort}`, await freePort());

    const apps: { service: ComposeService; proc: ManagedProcess }[] = [];
    const oneShot = (s: ComposeService) =>
      project.services.some((other) => other.dependsOn[s.name] === 'service_completed_successfully');
    let roDone = false;
    for (const service of dependencyOrder(project.services)) {
      if (interrupted) return 130;
      // Once no service before writes to them any more, read-only volumes lose their write bits.
      if (!roDone && !oneShot(service)) {
        roDone = true;
        const readOnly = [...box.volumes.keys()].filter((name) =>
          project.services.every((s) => s.mounts.every((m) => m.source !== name || m.readOnly || oneShot(s))),
        );
        for (const name of readOnly) makeReadOnly(box.volume(name));
        say(`  read-only volumes (${readOnly.join(', ')}): write bits removed, as far as a mount option can be imitated`);
      }
      if (service.image?.startsWith('nats')) {
        say('starting nats (a private nats-server with deploy/nats/nats.conf and permissions.conf)');
        const nats = await startNats(service, box);
        procs.push(nats.proc);
        box.hosts.set(`${service.name}:4222`, `127.0.0.1:${nats.port}`);
        const anonymous = await connect({ servers: `nats://127.0.0.1:${nats.port}`, reconnect: false }).then(
          async (nc) => (await nc.close(), 'accepted'),
          (error: Error) => error.message,
        );
        if (!/Authorization Violation/i.test(anonymous)) fail(`nats: an anonymous client was not refused (${anonymous})`);
        say(`  nats healthy; an anonymous client is refused (${anonymous})`);
        continue;
      }
      if (service.image?.startsWith('postgres')) {
        say('starting postgres (a private PostgreSQL: initdb in the working directory)');
        postgres = (await startPostgres(service, box)).server;
        box.hosts.set(`${service.name}:5432`, `127.0.0.1:${postgres.port}`);
        continue;
      }
      if (!service.build) fail(`${service.name}: image ${service.image} is neither ours, nats nor postgres`);
      box.rootfs(service);
      if (oneShot(service)) {
        say(`running ${service.name}: ${argvOf(service, image).join(' ')}`);
        const proc = runApp(service, image, box, ports, true);
        procs.push(proc);
        const code = exitCodeOf(await proc.exited);
        if (code !== 0) fail(`${service.name} exited ${code}:\n${proc.tail()}`);
        say(`  ${service.name} exited 0`);
        if (service.name === 'init' || argvOf(service, image).some((a) => a.includes('init')))
          checkSecrets(project.services, image, box);
        continue;
      }
      say(`starting ${service.name}: ${argvOf(service, image).join(' ')}`);
      const proc = runApp(service, image, box, ports, false);
      procs.push(proc);
      apps.push({ service, proc });
    }

    for (const { service, proc } of apps) {
      const port = ports.get(`${service.name}:${service.ports[0]?.containerPort}`);
      if (!port) fail(`${service.name}: publishes no port to probe`);
      await healthy({ name: service.name, url: `http://127.0.0.1:${port}`, process: proc }, '/readyz', 60_000);
      say(`  ${service.name} healthy: GET 127.0.0.1:${port}/readyz → 200`);
    }

    // The operator key, read the documented way: `docker compose run --rm init show-operator-key`.
    const init = project.services.find((s) => s.name === 'init') ?? fail('no init service');
    const show = runApp(init, image, box, ports, false, ['show-operator-key']);
    if (exitCodeOf(await show.exited) !== 0) fail(`init show-operator-key failed:\n${show.tail()}`);
    const key = show.log.trim().split('\n').at(-1)!;
    say(`the operator key from \`init show-operator-key\`: ${key.slice(0, 9)}… (${key.length} characters)`);

    const url = (name: string) => {
      const s = project.services.find((x) => x.name === name) ?? fail(`no ${name} service`);
      return `http://127.0.0.1:${ports.get(`${s.name}:${s.ports[0]!.containerPort}`)}`;
    };
    const serial = () => randomBytes(6).toString('hex').toUpperCase();
    const [primary, secondary] = [serial(), serial()];
    for (const s of [primary, secondary]) {
      const r = await http('POST', `${url('pairing')}/products`, key, {
        serial: s,
        model: 'NSA 2700',
        firmwareVersion: '7.0.1',
        accountId: 'deploy-check',
      });
      if (r.status !== 201) fail(`POST /products ${s} → ${r.status} ${JSON.stringify(r.json)}`);
    }
    say(`registered ${primary} (Primary) and ${secondary} (Secondary)`);
    const pair = await http('POST', `${url('pairing')}/pairs`, key, { primarySerial: primary, secondarySerial: secondary });
    if (pair.status !== 201) fail(`POST /pairs → ${pair.status} ${JSON.stringify(pair.json)}`);
    say(`paired them: ${(pair.json as { pairId: string }).pairId}`);
    const grant = await http('POST', `${url('licensing')}/products/${primary}/licenses`, key, { sku: 'GATEWAY_AV' });
    if (grant.status !== 201) fail(`POST /products/${primary}/licenses → ${grant.status} ${JSON.stringify(grant.json)}`);
    say('granted GATEWAY_AV on the Primary; polling the Secondary’s effective licenses');
    const shared = await until('the grant to reach the Secondary', 30_000, async () => {
      const r = await http('GET', `${url('sync-agent')}/products/${secondary}/effective-licenses`, key);
      const set = r.json as { licenses?: { sku: string; sources: { from: string }[] }[] };
      return set.licenses?.find((l) => l.sku === 'GATEWAY_AV');
    });
    say(`  the Secondary may use GATEWAY_AV (from ${shared.sources.map((s) => s.from).join(', ')})`);

    say('stopping the services (SIGTERM, as docker compose stop does)');
    for (const { service, proc } of apps) {
      const code = exitCodeOf(await proc.stop());
      if (code !== 0) fail(`${service.name} exited ${code} on SIGTERM:\n${proc.tail()}`);
    }
    say('PASS: every service became healthy as compose configures it, and a grant reached the Secondary');
    return 0;
  } catch (error) {
    if (!(error instanceof CheckFailed)) throw error;
    say(`FAIL: ${error.message}`);
    for (const p of procs.filter((x) => x.log && !x.name.startsWith('init')))
      console.log(`----- ${p.name} (last lines) -----\n${p.tail(40)}`);
    return 1;
  } finally {
    await cleanUp();
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  say(`FAIL: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
}
