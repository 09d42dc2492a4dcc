# The container-image route to AWS Lambda (images up to 10 GB, built on any machine with Docker):
#
#   docker build --platform linux/amd64 -t twinsearch-lambda .
#
# The package is built inside the AWS Lambda Node.js base image (Amazon Linux 2023), so
# hnswlib-node compiles against the very glibc it runs on; package:lambda then checks every native
# file with objdump and prunes what Node never loads. The same image serves both functions:
# CMD index.handler (HTTP), or override the command with index.scheduled (the re-index).
FROM --platform=linux/amd64 public.ecr.aws/lambda/nodejs:22 AS build
RUN dnf install -y gcc-c++ make python3 binutils zip && dnf clean all
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY functions ./functions
COPY scripts/build ./scripts/build
RUN npm run package:lambda

FROM --platform=linux/amd64 public.ecr.aws/lambda/nodejs:22
COPY --from=build /build/dist/lambda/ ${LAMBDA_TASK_ROOT}/
CMD ["index.handler"]
