import { mailyardProject } from '../../vitest.shared.ts';

export default mailyardProject('@mailyard/sink', { testTimeout: 60_000 });
