import { mailyardProject } from '../../vitest.shared.ts';

export default mailyardProject('@mailyard/check-dnsbl');
