"""Adapters: the domain's ports on AWS (DynamoDB, S3, SES, Step Functions, SSM) and in memory, the
settings model and the AWS clients. The only package that imports boto3 or botocore."""
