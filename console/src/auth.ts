// Sign-in in AWS: the Cognito user pool checks the password (USER_PASSWORD_AUTH), the identity pool trades the ID
// token for temporary IAM credentials of the role the user's group maps to (finance or auditor). Both are plain
// JSON calls that need no signature. Credentials live in this tab's memory only; they last an hour at most.
import type { ConsoleConfig } from "./config";

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: number; // epoch milliseconds
  user: string;
}

async function awsJson(url: string, target: string, body: unknown): Promise<any> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.message || answer.__type || `sign-in failed (HTTP ${response.status})`);
  return answer;
}

export type SignInStep = { credentials: Credentials } | { newPasswordRequired: (password: string) => Promise<Credentials> };

export async function signIn(config: ConsoleConfig, username: string, password: string): Promise<SignInStep> {
  const idp = `https://cognito-idp.${config.region}.amazonaws.com/`;
  const started = await awsJson(idp, "AWSCognitoIdentityProviderService.InitiateAuth", {
    AuthFlow: "USER_PASSWORD_AUTH", ClientId: config.userPoolClientId,
    AuthParameters: { USERNAME: username, PASSWORD: password },
  });
  if (started.ChallengeName === "NEW_PASSWORD_REQUIRED") {
    return {
      newPasswordRequired: async (newPassword: string) => {
        const done = await awsJson(idp, "AWSCognitoIdentityProviderService.RespondToAuthChallenge", {
          ChallengeName: "NEW_PASSWORD_REQUIRED", ClientId: config.userPoolClientId, Session: started.Session,
          ChallengeResponses: { USERNAME: username, NEW_PASSWORD: newPassword },
        });
        return credentialsFor(config, done.AuthenticationResult.IdToken, username);
      },
    };
  }
  if (!started.AuthenticationResult) throw new Error(`sign-in needs ${started.ChallengeName || "a step this console does not support"}`);
  return { credentials: await credentialsFor(config, started.AuthenticationResult.IdToken, username) };
}

async function credentialsFor(config: ConsoleConfig, idToken: string, user: string): Promise<Credentials> {
  const identity = `https://cognito-identity.${config.region}.amazonaws.com/`;
  const logins = { [`cognito-idp.${config.region}.amazonaws.com/${config.userPoolId}`]: idToken };
  const { IdentityId } = await awsJson(identity, "AWSCognitoIdentityService.GetId", { IdentityPoolId: config.identityPoolId, Logins: logins });
  const { Credentials: c } = await awsJson(identity, "AWSCognitoIdentityService.GetCredentialsForIdentity", { IdentityId, Logins: logins });
  return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretKey, sessionToken: c.SessionToken, expiration: c.Expiration * 1000, user };
}
