/**
 * Harvests the trained LoRA into S3. The file is streamed back over SFTP through our process
 * into `PutObject`, rather than uploaded from the instance with a presigned PUT, because:
 * - nothing secret or capability-bearing (credentials, a presigned URL) ever lands on a rented
 *   machine we do not control;
 * - it needs no curl/aws CLI on the image, only sshd (already required) and sha256sum;
 * - the bytes pass through us, so size and sha256 are checked on our side against what the
 *   instance computed, and S3 itself checks the same sha256 (ChecksumSHA256) before accepting.
 * The cost is that the artifact (tens to hundreds of MB) crosses our link once; for LoRA sizes
 * that is seconds.
 */
import { createHash } from "node:crypto";
import { PassThrough, Transform } from "node:stream";
import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { errorText, type Logger, silentLogger } from "../observability";
import { type SshSession, shellCommand } from "../ssh";
import { DEFAULT_WORKSPACE_ROOT, jobPaths } from "./paths";

export interface CollectArtifactOptions {
  jobId: string;
  workspaceRoot?: string;
  s3: S3Client;
  bucket: string;
  key: string;
  logger?: Logger;
}

export interface CollectedArtifact {
  bucket: string;
  key: string;
  bytes: number;
  /** Hex sha256, identical on the instance, in transit and in S3. */
  sha256: string;
  remotePath: string;
}

export class ArtifactError extends Error {
  override readonly name: string = "ArtifactError";
}

/** The run left no `.safetensors` file: final, unlike transport or verification errors. */
export class ArtifactMissingError extends ArtifactError {
  override readonly name = "ArtifactMissingError";
}

/** Exit code of the locate script when no artifact exists. */
const EXIT_NO_ARTIFACT = 3;

/** ai-toolkit writes `<training_folder>/<name>/<name>.safetensors` at the end; prefer it over step checkpoints. */
const LOCATE = `out=$1 name=$2
final="$out/$name/$name.safetensors"
if [ -f "$final" ]; then f=$final
else f=$(find "$out" -type f -name '*.safetensors' -printf '%T@ %p\\n' 2>/dev/null | sort -n | tail -n 1 | cut -d' ' -f2-)
fi
if [ -z "$f" ]; then echo "no .safetensors file under $out" >&2; exit ${EXIT_NO_ARTIFACT}; fi
printf '%s %s %s\\n' "$(stat -c %s -- "$f")" "$(sha256sum -- "$f" | cut -d' ' -f1)" "$f"
`;

export async function collectArtifact(
  session: SshSession,
  options: CollectArtifactOptions,
): Promise<CollectedArtifact> {
  const logger = options.logger ?? silentLogger;
  const paths = jobPaths(options.jobId, options.workspaceRoot ?? DEFAULT_WORKSPACE_ROOT);
  const located = await session.exec(
    shellCommand`bash -c ${LOCATE} locate ${paths.trainingFolder} ${options.jobId}`,
  );
  const match = /^(\d+) ([0-9a-f]{64}) (.+)$/.exec(located.stdout.trim());
  if (located.exitCode === EXIT_NO_ARTIFACT) {
    throw new ArtifactMissingError(`no artifact for ${options.jobId}: ${located.stderr.trim()}`);
  }
  if (located.exitCode !== 0 || !match) {
    throw new ArtifactError(
      `could not locate the artifact of ${options.jobId} (exit ${located.exitCode ?? located.signal}): ${located.stderr.trim() || located.stdout.trim()}`,
    );
  }
  const remoteSize = Number(match[1]);
  const remoteHash = match[2]!;
  const remotePath = match[3]!;

  const { stream, size } = await session.sftpDownload(remotePath);
  if (size !== remoteSize) {
    stream.destroy();
    throw new ArtifactError(`artifact ${remotePath} changed size while collecting (${remoteSize} → ${size})`);
  }
  const hash = createHash("sha256");
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  const body = new PassThrough();
  const forwardError = (error: Error) => body.destroy(error);
  stream.on("error", forwardError);
  stream.pipe(meter).pipe(body);
  try {
    await options.s3.send(
      new PutObjectCommand({
        Bucket: options.bucket,
        Key: options.key,
        Body: body,
        ContentLength: remoteSize,
        ContentType: "application/octet-stream",
        // S3 recomputes this and refuses the object if the bytes differ from what the instance hashed.
        ChecksumSHA256: Buffer.from(remoteHash, "hex").toString("base64"),
        Metadata: { sha256: remoteHash, "job-id": options.jobId },
      }),
    );
  } catch (error) {
    stream.destroy();
    throw new ArtifactError(
      `artifact upload to s3://${options.bucket}/${options.key} failed: ${errorText(error)}`,
    );
  } finally {
    // Once S3 has answered, the bytes are judged by size and hash below. An error the SFTP
    // stream raises later (ssh2's "No response from server" when the session closes with its
    // close request pending; the session logs it) must not be forwarded to a body stream nobody
    // listens to any more: that is an uncaught exception between collecting and destroying.
    stream.off("error", forwardError);
    body.on("error", () => {});
  }
  const localHash = hash.digest("hex");
  const head = await options.s3.send(new HeadObjectCommand({ Bucket: options.bucket, Key: options.key }));
  if (bytes !== remoteSize || localHash !== remoteHash || head.ContentLength !== remoteSize) {
    await options.s3.send(new DeleteObjectCommand({ Bucket: options.bucket, Key: options.key }));
    throw new ArtifactError(
      `artifact verification failed for ${options.jobId}: instance ${remoteSize} bytes sha256 ${remoteHash}, ` +
        `received ${bytes} bytes sha256 ${localHash}, stored ${head.ContentLength ?? "?"} bytes`,
    );
  }
  logger.info("artifact collected", { jobId: options.jobId, key: options.key, bytes, sha256: remoteHash });
  return { bucket: options.bucket, key: options.key, bytes, sha256: remoteHash, remotePath };
}
