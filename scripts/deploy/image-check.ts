/**
 * What the deployment check (check.ts) verifies of the Dockerfile without building it: that its build stage is
 * given every source file the build compiles (through its COPY lines and .dockerignore), that what the runtime stage
 * copies from the build exists after `npm run build`, that the files it and the compose commands run exist, and
 * that those entry points load nothing but production dependencies (the runtime stage has `npm prune --omit=dev`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join, normalize, posix, relative, resolve } from 'node:path';
import type { Ignore } from '@balena/dockerignore';
import { DockerfileParser } from 'dockerfile-ast';

// A CommonJS module whose types declare an ES default export: loaded with require, as Node exports it.
const dockerignore = createRequire(import.meta.url)('@balena/dockerignore') as () => Ignore;

/** One COPY line: its sources (relative to the context, or to the `from` stage's root), destination and stage. */
export interface CopyLine {
  readonly from: string | undefined;
  readonly sources: string[];
  readonly destination: string;
}

/** One stage of the Dockerfile. */
export interface Stage {
  readonly name: string;
  readonly image: string;
  readonly workdir: string;
  readonly env: Record<string, string>;
  readonly user: string | undefined;
  readonly copies: CopyLine[];
  readonly runs: string[];
  readonly cmd: string[] | undefined;
  readonly entrypoint: string[] | undefined;
}

/** Reads the stages of a Dockerfile (the last one is what the image runs). */
export function readDockerfile(text: string): Stage[] {
  const stages: {
    name: string;
    image: string;
    workdir: string;
    env: Record<string, string>;
    user: string | undefined;
    copies: CopyLine[];
    runs: string[];
    cmd: string[] | undefined;
    entrypoint: string[] | undefined;
  }[] = [];
  for (const instruction of DockerfileParser.parse(text).getInstructions()) {
    const keyword = instruction.getKeyword();
    const args = instruction.getArguments().map((a) => a.getValue());
    if (keyword === 'FROM') {
      const base = stages.find((s) => s.name === args[0]);
      stages.push({
        name: args[2] ?? String(stages.length),
        image: args[0] ?? '',
        workdir: base?.workdir ?? '/',
        env: { ...base?.env },
        user: base?.user,
        copies: [],
        runs: [],
        cmd: base?.cmd,
        entrypoint: base?.entrypoint,
      });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) continue;
    const json = () => {
      const content = instruction.getArgumentsContent() ?? '';
      return content.trim().startsWith('[') ? (JSON.parse(content) as string[]) : ['/bin/sh', '-c', content];
    };
    switch (keyword) {
      case 'WORKDIR':
        stage.workdir = posix.resolve(stage.workdir, args[0] ?? '.');
        break;
      case 'ENV':
        for (const property of (
          instruction as unknown as { getProperties(): { getName(): string; getValue(): string | null }[] }
        ).getProperties())
          stage.env[property.getName()] = property.getValue() ?? '';
        break;
      case 'USER':
        stage.user = args[0];
        break;
      case 'COPY':
      case 'ADD': {
        const flags = (instruction as unknown as { getFlags(): { getName(): string; getValue(): string | null }[] }).getFlags();
        const paths = args.filter((a) => !a.startsWith('--'));
        const from = flags.find((f) => f.getName() === 'from')?.getValue() ?? undefined;
        stage.copies.push({ from, sources: paths.slice(0, -1), destination: posix.resolve(stage.workdir, paths.at(-1) ?? '.') });
        break;
      }
      case 'RUN':
        stage.runs.push(instruction.getArgumentsContent() ?? '');
        break;
      case 'CMD':
        stage.cmd = json();
        break;
      case 'ENTRYPOINT':
        stage.entrypoint = json();
        break;
    }
  }
  return stages;
}

/** The check's findings: `problems` fail it, `notes` are printed. */
export interface Findings {
  readonly problems: string[];
  readonly notes: string[];
}

/**
 * The build stage's view of the repository: which repository paths its COPY lines bring in (minus .dockerignore),
 * and whether a given file is among them.
 */
function buildContext(repoRoot: string, build: Stage) {
  const ignoreFile = join(repoRoot, '.dockerignore');
  const ignored = dockerignore().add(existsSync(ignoreFile) ? readFileSync(ignoreFile, 'utf8').split('\n') : []);
  const copied = build.copies
    .filter((c) => c.from === undefined)
    .flatMap((c) => c.sources.map((s) => normalize(s).replace(/\/$/, '')));
  return {
    copied,
    ignored,
    has(file: string): boolean {
      return (
        !ignored.ignores(file) && copied.some((source) => source === '.' || file === source || file.startsWith(`${source}/`))
      );
    },
  };
}

/**
 * Checks the Dockerfile against the repository after `npm run build`: the build stage, the runtime stage and its
 * CMD. `tsconfig` is the build's project file (the one `npm run build` compiles).
 */
export function checkDockerfile(repoRoot: string, stages: readonly Stage[], tsconfig = 'tsconfig.build.json'): Findings {
  const problems: string[] = [];
  const notes: string[] = [];
  const runtime = stages.at(-1);
  if (!runtime) return { problems: ['the Dockerfile has no FROM'], notes };
  const builds = stages.filter((s) => runtime.copies.some((c) => c.from === s.name));
  notes.push(
    `stages: ${stages.map((s) => `${s.name} (${s.image})`).join(', ')}; the image runs ${runtime.name} as ${runtime.user ?? 'root'} ` +
      `in ${runtime.workdir}, ENV ${Object.entries(runtime.env)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
  );
  for (const build of builds) {
    const context = buildContext(repoRoot, build);
    for (const source of context.copied) {
      if (!existsSync(join(repoRoot, source))) problems.push(`${build.name}: COPY ${source}: not in the repository`);
      else if (context.ignored.ignores(source)) problems.push(`${build.name}: COPY ${source}: excluded by .dockerignore`);
    }
    if (!build.runs.some((r) => r.includes('npm run build')))
      notes.push(`${build.name} does not run \`npm run build\`: the compiled-files check assumes it does`);
    // Every file the build compiles must reach the build stage, unless only an include pattern picked it (then
    // the image simply does not compile it); a file that is imported by a copied one would break the build.
    const explained = execFileSync(
      process.execPath,
      [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', tsconfig, '--listFilesOnly', '--explainFiles'],
      { cwd: repoRoot, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    let file = '';
    const missing = new Map<string, string[]>();
    let leftOut = 0;
    for (const line of explained.split('\n')) {
      if (line && !line.startsWith(' ')) {
        file = relative(repoRoot, resolve(repoRoot, line.trim()));
        if (!file.startsWith('..') && !file.includes('node_modules') && !context.has(file)) {
          missing.set(file, []);
          leftOut++;
        }
        continue;
      }
      const importer = /Imported via .* from file '([^']+)'/.exec(line)?.[1];
      if (importer && missing.has(file)) {
        const from = relative(repoRoot, resolve(repoRoot, importer));
        if (context.has(from)) missing.get(file)!.push(from);
      }
    }
    for (const [missingFile, importers] of missing)
      if (importers.length > 0)
        problems.push(
          `${build.name}: ${importers[0]} imports ${missingFile}, which the stage's COPY lines do not bring in: \`npm run build\` fails in the image`,
        );
    if (leftOut > 0)
      notes.push(`${leftOut} source files matched only by tsconfig include patterns are not copied (not compiled in the image)`);

    // What the runtime copies from this stage must exist after the build (the stage's workdir is the repository).
    for (const copy of runtime.copies.filter((c) => c.from === build.name))
      for (const source of copy.sources) {
        const inRepo = relative(build.workdir, posix.resolve(build.workdir, source));
        if (inRepo.startsWith('..'))
          problems.push(`${runtime.name}: COPY --from=${build.name} ${source}: outside ${build.workdir}`);
        else if (!existsSync(join(repoRoot, inRepo)))
          problems.push(`${runtime.name}: COPY --from=${build.name} ${source}: ${inRepo} does not exist after the build`);
      }
  }
  const command = [...(runtime.entrypoint ?? []), ...(runtime.cmd ?? [])];
  const script = command.find((a) => a.endsWith('.js'));
  if (!script) problems.push(`${runtime.name}: CMD runs no .js file (${JSON.stringify(command)})`);
  else if (!existsSync(join(repoRoot, relative(runtime.workdir, posix.resolve(runtime.workdir, script)))))
    problems.push(`${runtime.name}: CMD ${JSON.stringify(command)}: ${script} does not exist after the build`);
  return { problems, notes };
}

/**
 * The npm packages an entry point of dist/ loads, following its relative and `#` imports through dist/, that
 * are not production dependencies of package.json (the image has none other). Static imports and string-literal
 * dynamic imports are followed.
 */
export function nonProductionImports(repoRoot: string, entry: string): string[] {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    imports?: Record<string, { default?: string } | string>;
  };
  const production = new Set(Object.keys(manifest.dependencies ?? {}));
  const builtins = new Set(builtinModules);
  const found = new Set<string>();
  const seen = new Set<string>();
  const queue = [resolve(repoRoot, entry)];
  const pattern =
    /(?:^|[;\s])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[;\s])import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file) || !existsSync(file)) continue;
    seen.add(file);
    const code = readFileSync(file, 'utf8');
    for (const match of code.matchAll(pattern)) {
      const specifier = match[1] ?? match[2] ?? match[3]!;
      if (specifier.startsWith('.')) queue.push(resolve(dirname(file), specifier));
      else if (specifier.startsWith('#')) {
        const target = manifest.imports?.[specifier];
        const path = typeof target === 'string' ? target : target?.default;
        if (path) queue.push(resolve(repoRoot, path));
      } else if (!specifier.startsWith('node:') && !builtins.has(specifier)) {
        const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
        if (!production.has(name)) found.add(`${name} (from ${relative(repoRoot, file)})`);
      }
    }
  }
  return [...found];
}
