/**
 * Datasets for integration tests on fauxqs's S3: the buckets, uploading a folder, a tiny sample
 * dataset under the prefix `sampleJobRequestInput` names, and the real `DatasetAccess` (the same
 * readers and inspection the deployment uses) over that S3.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { CreateBucketCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { type DatasetReaderDeps, datasetReaderFor, inspectDataset } from "../../packages/core/src/dataset";
import type { DatasetAccess } from "../../packages/core/src/jobs";
import { localS3Client } from "./fauxqs";

/** Anything with fauxqs's endpoint (a test file's infra). */
export interface HasS3 {
  sqs: { endpoint: string };
}

export const ARTIFACT_BUCKET = "artifacts";
export const DATASET_BUCKET = "datasets";

export function s3For(infra: HasS3): S3Client {
  return localS3Client(infra.sqs.endpoint);
}

export async function ensureBuckets(s3: S3Client): Promise<void> {
  for (const Bucket of [ARTIFACT_BUCKET, DATASET_BUCKET]) {
    await s3.send(new CreateBucketCommand({ Bucket })).catch((error: unknown) => {
      if (!(error instanceof Error && /BucketAlready/.test(error.name))) throw error;
    });
  }
}

/** Uploads every file under `root` to `s3://bucket/prefix...`, keeping relative names. */
export async function uploadFolder(
  s3: S3Client,
  bucket: string,
  prefix: string,
  root: string,
): Promise<void> {
  const walk = async (relative: string): Promise<void> => {
    for (const entry of await readdir(join(root, relative), { withFileTypes: true })) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(path);
      else {
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: `${prefix}${path}`,
            Body: await readFile(join(root, path)),
          }),
        );
      }
    }
  };
  await walk("");
}

/** Uploads a local dataset folder to `s3://datasets/<prefix>` on the infra's S3, creating the buckets. */
export async function uploadDataset(infra: HasS3, prefix: string, root: string): Promise<void> {
  const s3 = s3For(infra);
  try {
    await ensureBuckets(s3);
    await uploadFolder(s3, DATASET_BUCKET, prefix, root);
  } finally {
    s3.destroy();
  }
}

/** The sample dataset `sampleJobRequestInput` points at: `s3://datasets/sample/`, two captioned images. */
export const SAMPLE_DATASET_PREFIX = "sample/";

export async function uploadSampleDataset(s3: S3Client): Promise<void> {
  await ensureBuckets(s3);
  const files: Record<string, string> = {
    "cat1.jpg": "not really a jpeg, but the orchestrator never decodes images",
    "cat1.txt": "a photo of ohwx cat",
    "cat2.png": "not really a png",
    "cat2.txt": "ohwx cat on a sofa",
  };
  for (const [name, body] of Object.entries(files)) {
    await s3.send(
      new PutObjectCommand({ Bucket: DATASET_BUCKET, Key: `${SAMPLE_DATASET_PREFIX}${name}`, Body: body }),
    );
  }
}

/** The deployment's `DatasetAccess` over the given S3 client (local folders allowed, as in the local stack). */
export function realDatasets(s3: S3Client): DatasetAccess {
  return datasetAccess({ s3, allowLocal: true });
}

/** The deployment's `DatasetAccess` over the given clients. */
export function datasetAccess(clients: DatasetReaderDeps): DatasetAccess {
  return {
    reader: (source) => datasetReaderFor(source, clients),
    inspect: (source, options) => inspectDataset(source, clients, options),
  };
}
