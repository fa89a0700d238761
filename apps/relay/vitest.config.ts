import { mailyardProject } from '../../vitest.shared.ts';

export default mailyardProject('@mailyard/relay', { testTimeout: 60_000 });
