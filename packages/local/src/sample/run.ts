/**
 * The sample run `npm start` makes: the shipped dataset into the stack's S3, the sample job
 * submitted through the HTTP API as a product backend would (a signed webhook), then followed
 * until it ends.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import {
  type JobRequestInput,
  SUBMISSION_SIGNATURE_HEADER,
  SUBMISSION_TIMESTAMP_HEADER,
  type SubmittedJob,
  signPayload,
} from "@vast-rental/core";
import { SAMPLE_DATASET_DIR } from "./generate-dataset";

/** Uploads the shipped sample dataset under `prefix`; returns its file count and size. */
export async function uploadSampleDataset(
  s3: S3Client,
  target: { bucket: string; prefix: string },
): Promise<{ files: number; bytes: number }> {
  let bytes = 0;
  const names = (await readdir(SAMPLE_DATASET_DIR)).sort();
  for (const name of names) {
    const body = await readFile(join(SAMPLE_DATASET_DIR, name));
    bytes += body.length;
    await s3.send(
      new PutObjectCommand({ Bucket: target.bucket, Key: `${target.prefix}${name}`, Body: body }),
    );
  }
  return { files: names.length, bytes };
}

/** A refused submission: the API's problem, as it answered. */
export class SubmissionRefusedError extends Error {
  override readonly name = "SubmissionRefusedError";
  constructor(
    readonly status: number,
    readonly problem: string,
  ) {
    super(`the API refused the job (${status}): ${problem}`);
  }
}

/** Submits `request` as a signed webhook (`X-Vast-Rental-Signature-256`), as a product backend would. */
export async function submitSigned(
  apiUrl: string,
  secret: string,
  request: JobRequestInput,
): Promise<SubmittedJob> {
  const body = JSON.stringify(request);
  const timestamp = Math.floor(Date.now() / 1000);
  const response = await fetch(`${apiUrl}/v1/jobs`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      [SUBMISSION_TIMESTAMP_HEADER]: String(timestamp),
      [SUBMISSION_SIGNATURE_HEADER]: signPayload(secret, timestamp, body),
    },
    body,
  });
  const text = await response.text();
  if (response.status !== 202) throw new SubmissionRefusedError(response.status, text);
  return JSON.parse(text) as SubmittedJob;
}
