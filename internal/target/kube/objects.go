package kube

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
)

// cnbLauncher is the CNB launcher's path in every buildpacks image.
const cnbLauncher = "/cnb/lifecycle/launcher"

// version is what decides whether a workload must be replaced: the spec
// hash, the build key and the restart token.
type version struct{ specHash, buildKey, restart string }

func (v version) annotations() map[string]string {
	return map[string]string{AnnotSpecHash: v.specHash, AnnotBuildKey: v.buildKey, AnnotRestart: v.restart}
}

// versionOf reads a version from an object's annotations.
func versionOf(a map[string]string) version {
	return version{specHash: a[AnnotSpecHash], buildKey: a[AnnotBuildKey], restart: a[AnnotRestart]}
}

// image returns the image a spec runs: the Kubernetes target runs images,
// not directories.
func image(spec target.Spec) (string, error) {
	if spec.Artifact.Image == "" {
		return "", slipway.Errorf(slipway.EInvalid, "Component %s's build %s is a directory on the builder's machine, which a Kubernetes target cannot run: name a prebuilt image (build: image:) or use a builder that pushes images.", spec.Component.Name, spec.Artifact.Key)
	}
	return spec.Artifact.Image, nil
}

// command is the container's command: a Procfile process type of the
// artifact names its command line; anything else is a shell command. An
// image made by buildpacks runs it through the CNB launcher (as
// Toolforge's jobs do), which knows the image's process types and sets up
// the environment the buildpacks prepared.
func command(spec target.Spec) []string {
	cmd := spec.Component.Run.Command
	if spec.Artifact.Stack == slipway.StackBuildpacks {
		return []string{cnbLauncher, cmd}
	}
	if line, ok := spec.Artifact.Processes[cmd]; ok {
		cmd = line
	}
	return []string{"/bin/sh", "-c", cmd}
}

// container returns the main container of a component's pods; port 0 sets
// no PORT.
func (d *Driver) container(spec target.Spec, img string, port int) (*corev1ac.ContainerApplyConfiguration, error) {
	run := spec.Component.Run
	env := map[string]string{"TOOL_NAME": spec.Tool, "COMPONENT": spec.Component.Name}
	maps.Copy(env, spec.Env)
	if port > 0 {
		env["PORT"] = strconv.Itoa(port)
	}
	c := corev1ac.Container().WithName(containerName).WithImage(img).WithCommand(command(spec)...).
		WithEnvFrom(corev1ac.EnvFromSource().WithSecretRef(corev1ac.SecretEnvSource().WithName(envSecret).WithOptional(true)))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		c.WithEnv(corev1ac.EnvVar().WithName(k).WithValue(env[k]))
	}
	if port > 0 {
		proto := corev1.ProtocolTCP
		if strings.EqualFold(run.PortProtocol, "udp") {
			proto = corev1.ProtocolUDP
		}
		c.WithPorts(corev1ac.ContainerPort().WithContainerPort(int32(port)).WithProtocol(proto))
	}
	res := corev1.ResourceList{}
	for name, q := range map[corev1.ResourceName]string{corev1.ResourceCPU: run.CPU, corev1.ResourceMemory: run.Memory} {
		if q == "" {
			continue
		}
		v, err := resource.ParseQuantity(q)
		if err != nil {
			return nil, slipway.Errorf(slipway.EInvalid, "Component %s: %s %q is not a Kubernetes quantity: %v.", spec.Component.Name, name, q, err)
		}
		res[name] = v
	}
	if len(res) > 0 {
		c.WithResources(corev1ac.ResourceRequirements().WithRequests(res).WithLimits(res))
	}
	return c, nil
}

// probes sets the container's startup, readiness and liveness probes from
// the health check fields: an HTTP GET of health_check_http, the script of
// health_check_script, or else a TCP connection to the port.
func (d *Driver) probes(c *corev1ac.ContainerApplyConfiguration, run slipway.RunSpec) {
	probe := func() *corev1ac.ProbeApplyConfiguration {
		p := corev1ac.Probe().WithPeriodSeconds(2).WithTimeoutSeconds(5)
		switch {
		case run.HealthCheckHTTP != "":
			return p.WithHTTPGet(corev1ac.HTTPGetAction().WithPath(run.HealthCheckHTTP).WithPort(intstr.FromInt(run.Port)))
		case run.HealthCheckScript != "":
			return p.WithExec(corev1ac.ExecAction().WithCommand("/bin/sh", "-c", run.HealthCheckScript))
		case run.Port > 0 && !strings.EqualFold(run.PortProtocol, "udp"):
			return p.WithTCPSocket(corev1ac.TCPSocketAction().WithPort(intstr.FromInt(run.Port)))
		}
		return nil
	}
	if probe() == nil {
		return
	}
	startupFailures := max(int32(d.cfg.StartupTimeout.Seconds()/2), 1)
	c.WithStartupProbe(probe().WithFailureThreshold(startupFailures))
	c.WithReadinessProbe(probe().WithFailureThreshold(1))
	c.WithLivenessProbe(probe().WithPeriodSeconds(10).WithFailureThreshold(3))
}

// podSpec is the pod of a component: its container, the grace period and
// (for runs) no restarts.
func (d *Driver) podTemplate(spec target.Spec, img string, port int, v version, restart corev1.RestartPolicy) (*corev1ac.PodTemplateSpecApplyConfiguration, error) {
	c, err := d.container(spec, img, port)
	if err != nil {
		return nil, err
	}
	if spec.Component.Type == slipway.Continuous {
		d.probes(c, spec.Component.Run)
	}
	grace := int64(d.cfg.StopGracePeriod.Seconds())
	if g := spec.Component.Run.StopGracePeriod; g > 0 {
		grace = int64(g)
	}
	pod := corev1ac.PodSpec().WithContainers(c).WithRestartPolicy(restart).WithTerminationGracePeriodSeconds(grace).
		WithEnableServiceLinks(false)
	d.securePod(pod)
	return corev1ac.PodTemplateSpec().
		WithLabels(labels(spec.Tool, spec.Component.Name)).
		WithAnnotations(v.annotations()).
		WithSpec(pod), nil
}

// deployment is a continuous component's Deployment.
func (d *Driver) deployment(ns string, spec target.Spec, img string, v version) (*appsv1ac.DeploymentApplyConfiguration, error) {
	run := spec.Component.Run
	tpl, err := d.podTemplate(spec, img, run.Port, v, corev1.RestartPolicyAlways)
	if err != nil {
		return nil, err
	}
	name := spec.Component.Name
	return appsv1ac.Deployment(name, ns).
		WithLabels(labels(spec.Tool, name)).WithLabels(map[string]string{LabelType: string(slipway.Continuous)}).
		WithAnnotations(v.annotations()).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(int32(run.ReplicaCount())).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(labels(spec.Tool, name))).
			// A new pod serves before an old one stops: a bad version
			// never takes the working one down.
			WithStrategy(appsv1ac.DeploymentStrategy().WithType(appsv1.RollingUpdateDeploymentStrategyType).
				WithRollingUpdate(appsv1ac.RollingUpdateDeployment().
					WithMaxUnavailable(intstr.FromInt(0)).WithMaxSurge(intstr.FromInt(1)))).
			WithProgressDeadlineSeconds(int32(d.cfg.StartupTimeout.Seconds())).
			WithRevisionHistoryLimit(3).
			WithTemplate(tpl)), nil
}

// service is the Service of a continuous component with a port.
func service(ns string, spec target.Spec) *corev1ac.ServiceApplyConfiguration {
	run := spec.Component.Run
	name := spec.Component.Name
	proto := corev1.ProtocolTCP
	if strings.EqualFold(run.PortProtocol, "udp") {
		proto = corev1.ProtocolUDP
	}
	port := int32(run.Port)
	return corev1ac.Service(name, ns).WithLabels(labels(spec.Tool, name)).
		WithSpec(corev1ac.ServiceSpec().WithType(corev1.ServiceTypeClusterIP).
			WithSelector(labels(spec.Tool, name)).
			WithPorts(corev1ac.ServicePort().WithName("main").WithPort(port).WithTargetPort(intstr.FromInt32(port)).WithProtocol(proto)))
}

// ingress is the Ingress of a published component at host.
func (d *Driver) ingress(ns, host string, spec target.Spec) *networkingv1ac.IngressApplyConfiguration {
	name := spec.Component.Name
	path := networkingv1.PathTypePrefix
	s := networkingv1ac.IngressSpec().WithRules(networkingv1ac.IngressRule().WithHost(host).
		WithHTTP(networkingv1ac.HTTPIngressRuleValue().WithPaths(networkingv1ac.HTTPIngressPath().
			WithPath("/").WithPathType(path).
			WithBackend(networkingv1ac.IngressBackend().WithService(networkingv1ac.IngressServiceBackend().
				WithName(name).WithPort(networkingv1ac.ServiceBackendPort().WithNumber(int32(spec.Component.Run.Port))))))))
	if d.cfg.IngressClass != "" {
		s.WithIngressClassName(d.cfg.IngressClass)
	}
	return networkingv1ac.Ingress(name, ns).WithLabels(labels(spec.Tool, name)).WithSpec(s)
}

// jobSpec is the Job of a run: no restarts in place (retries are new pods,
// backoffLimit), ended at the timeout.
func (d *Driver) jobSpec(spec target.Spec, img string, v version) (*batchv1ac.JobSpecApplyConfiguration, error) {
	run := spec.Component.Run
	tpl, err := d.podTemplate(spec, img, 0, v, corev1.RestartPolicyNever)
	if err != nil {
		return nil, err
	}
	js := batchv1ac.JobSpec().WithBackoffLimit(int32(max(run.Retry, 0))).WithTemplate(tpl)
	if run.Timeout > 0 {
		js.WithActiveDeadlineSeconds(int64(run.Timeout))
	}
	return js, nil
}

// cronJob is a scheduled component's CronJob, on the concrete schedule.
func (d *Driver) cronJob(ns string, spec target.Spec, img, schedule string, v version) (*batchv1ac.CronJobApplyConfiguration, error) {
	js, err := d.jobSpec(spec, img, v)
	if err != nil {
		return nil, err
	}
	name := spec.Component.Name
	return batchv1ac.CronJob(name, ns).
		WithLabels(labels(spec.Tool, name)).WithLabels(map[string]string{LabelType: string(slipway.Scheduled)}).
		WithAnnotations(v.annotations()).
		WithSpec(batchv1ac.CronJobSpec().WithSchedule(schedule).WithTimeZone("Etc/UTC").
			WithConcurrencyPolicy(batchv1.ForbidConcurrent).
			WithSuccessfulJobsHistoryLimit(5).WithFailedJobsHistoryLimit(5).
			WithJobTemplate(batchv1ac.JobTemplateSpec().
				WithLabels(labels(spec.Tool, name)).WithAnnotations(v.annotations()).WithSpec(js))), nil
}

// runJob is the Job of one-off run runID.
func (d *Driver) runJob(ns, name string, spec target.Spec, img, runID string, v version) (*batchv1ac.JobApplyConfiguration, error) {
	js, err := d.jobSpec(spec, img, v)
	if err != nil {
		return nil, err
	}
	if len(spec.AskEnv) > 0 {
		// The run's ask token, in its own Secret (made once the Job is,
		// owned by it).
		js.Template.Spec.Containers[0].WithEnvFrom(corev1ac.EnvFromSource().WithSecretRef(corev1ac.SecretEnvSource().WithName(name)))
	}
	return batchv1ac.Job(name, ns).
		WithLabels(labels(spec.Tool, spec.Component.Name)).
		WithLabels(map[string]string{LabelType: string(slipway.OneOff), LabelRun: name}).
		WithAnnotations(v.annotations()).WithAnnotations(map[string]string{AnnotRunID: runID}).
		WithSpec(js), nil
}

// secret is a Secret of env entries.
func secret(ns, name string, lbl map[string]string, env map[string]string) *corev1ac.SecretApplyConfiguration {
	s := corev1ac.Secret(name, ns).WithLabels(lbl).WithType(corev1.SecretTypeOpaque)
	data := make(map[string][]byte, len(env))
	for k, v := range env {
		data[k] = []byte(v)
	}
	return s.WithData(data)
}

// describe names an object for errors.
func describe(kind, ns, name string) string { return fmt.Sprintf("%s %s/%s", kind, ns, name) }
