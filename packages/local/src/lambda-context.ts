/**
 * The `Context` a Lambda invocation gets, for invoking handlers in process: its clock counts down
 * from the function's timeout, as the deployed one does, so steps that watch their deadline
 * behave the same locally.
 */
import { randomUUID } from "node:crypto";
import type { Context } from "aws-lambda";
import { LOCAL_ACCOUNT, LOCAL_REGION } from "./aws-identity";

export function lambdaContext(functionName: string, timeoutMs: number, memoryMb = 512): Context {
  const deadline = Date.now() + timeoutMs;
  const unsupported = () => {
    throw new Error("callback-style completion is not used by these handlers");
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${functionName}`,
    memoryLimitInMB: String(memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "local",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}
