import type { Command, Option } from 'commander';
import { CliError, EXIT } from '../../control/client/exit-codes.js';

interface Node {
  /** Space-separated verb path from the root, '' for the root. */
  path: string;
  subcommands: string[];
  options: string[];
  /** Options that take a value: their choices, or null for free text (files, numbers). */
  values: Map<string, string[] | null>;
}

/** Walks commander's tree: every verb path with its subcommands and options. */
function commandTree(root: Command): Node[] {
  const nodes: Node[] = [];
  const visit = (cmd: Command, path: string, inherited: readonly Option[]) => {
    const options = [...inherited, ...cmd.options];
    const values = new Map<string, string[] | null>();
    const names: string[] = [];
    for (const o of options as Option[]) {
      for (const flag of [o.long, o.short]) {
        if (!flag) continue;
        names.push(flag);
        if (o.required || o.optional) values.set(flag, o.argChoices ?? null);
      }
    }
    const subs = cmd.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
    nodes.push({ path, subcommands: subs.map((c) => c.name()), options: [...names, '--help'], values });
    // Options given to the program (--config) are accepted after any verb too.
    const passDown =
      path === '' ? (cmd.options as Option[]).filter((o) => o.long !== '--version') : inherited;
    for (const sub of subs) visit(sub, path === '' ? sub.name() : `${path} ${sub.name()}`, passDown);
  };
  visit(root, '', []);
  return nodes;
}

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

export function bashScript(root: Command): string {
  const nodes = commandTree(root);
  const words = nodes.map(
    (n) => `    ${quote(n.path)}) echo ${quote([...n.subcommands, ...n.options].join(' '))} ;;`,
  );
  const subs = nodes
    .filter((n) => n.subcommands.length > 0)
    .map((n) => `    ${quote(n.path)}) echo ${quote(n.subcommands.join(' '))} ;;`);
  const values: string[] = [];
  for (const n of nodes) {
    for (const [flag, choices] of n.values) {
      values.push(
        `    ${quote(`${n.path}|${flag}`)}) echo ${quote(choices === null ? '<file>' : choices.join(' '))} ;;`,
      );
    }
  }
  const name = root.name();
  return `# ${name} shell completion, generated from its command tree by \`${name} completion bash\`.
# Install: ${name} completion bash | sudo tee /etc/bash_completion.d/${name} >/dev/null
_${name}_words() {
  case "$1" in
${words.join('\n')}
  esac
}
_${name}_subcommands() {
  case "$1" in
${subs.join('\n')}
  esac
}
_${name}_values() {
  case "$1" in
${values.join('\n')}
    *) return 1 ;;
  esac
}
_${name}() {
  local cur prev path word i subs vals
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  path=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    subs=" $(_${name}_subcommands "$path") "
    if [[ "$word" != -* && "$subs" == *" $word "* ]]; then
      path="\${path:+$path }$word"
    fi
  done
  if vals="$(_${name}_values "$path|$prev")"; then
    if [[ "$vals" == "<file>" ]]; then
      COMPREPLY=($(compgen -f -- "$cur"))
    else
      COMPREPLY=($(compgen -W "$vals" -- "$cur"))
    fi
    return 0
  fi
  COMPREPLY=($(compgen -W "$(_${name}_words "$path")" -- "$cur"))
}
complete -F _${name} ${name}
`;
}

/** zsh runs the same completion through its bash compatibility layer. */
export function zshScript(root: Command): string {
  const name = root.name();
  return `#compdef ${name}
# ${name} zsh completion, generated from its command tree by \`${name} completion zsh\`.
# Install: ${name} completion zsh > "\${fpath[1]}/_${name}", or: source <(${name} completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bashScript(root)}`;
}

/** `powerdeal completion bash|zsh`: prints the shell completion script. */
export function register(program: Command): void {
  program
    .command('completion')
    .description(
      'print a shell completion script: powerdeal completion bash > /etc/bash_completion.d/powerdeal',
    )
    .argument('<shell>', 'bash or zsh')
    .action((shell: string) => {
      let root: Command = program;
      while (root.parent) root = root.parent;
      if (shell === 'bash') process.stdout.write(bashScript(root));
      else if (shell === 'zsh') process.stdout.write(zshScript(root));
      else throw new CliError(`completion is available for bash and zsh, not "${shell}"`, EXIT.usage);
    });
}
