// The exit codes live beside the control client, which maps the service's errors to them.
export { CliError, EXIT } from '../control/client/exit-codes.js';
