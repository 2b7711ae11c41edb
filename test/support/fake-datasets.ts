/**
 * A `DatasetAccess` for unit tests of the orchestration that do not push: the inspection accepts
 * (or refuses, when told) without any I/O, and no reader is available. Integration tests use the
 * real one over fauxqs S3 (`realDatasets` in provision-harness.ts).
 */
import { type DatasetInspection, DatasetRejectedError } from "../../packages/core/src/dataset";
import type { DatasetAccess } from "../../packages/core/src/jobs";

export interface FakeDatasets extends DatasetAccess {
  inspections: number;
  /** When set, the next inspections throw this. */
  failWith: Error | null;
}

export function fakeDatasets(found: Partial<DatasetInspection> = {}): FakeDatasets {
  const fake: FakeDatasets = {
    inspections: 0,
    failWith: null,
    reader() {
      throw new DatasetRejectedError("this test's datasets cannot be read");
    },
    async inspect(source) {
      fake.inspections++;
      if (fake.failWith) throw fake.failWith;
      return { kind: source.kind, files: 4, bytes: 4_000, archiveBytes: null, ...found };
    },
  };
  return fake;
}
