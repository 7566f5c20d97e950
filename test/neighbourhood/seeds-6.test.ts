import { seedSuite } from './seeds.js';

// One of eight files, so the seeds spread over the test workers; each takes its own range.
seedSuite(5001);
