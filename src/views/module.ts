/**
 * A module of the service: started and stopped by the composition root, in order and in reverse.
 * A module whose start fails is reported and left out unless it is `essential` (the store is: without
 * it nothing can be promised, so the service refuses to run).
 */
export interface ServiceModule {
  readonly name: string;
  readonly essential: boolean;
  start(): Promise<void>;
  stop(deadlineMs: number): Promise<void>;
}

export type ModuleState = 'stopped' | 'starting' | 'running' | 'failed' | 'stopping';

export interface ModuleReport {
  name: string;
  state: ModuleState;
  error: string | null;
}
