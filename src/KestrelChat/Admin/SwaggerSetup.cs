using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace KestrelChat.Admin;

/// <summary>
/// The OpenAPI document at /swagger/v1/swagger.json (ASP.NET Core's generator: made from the endpoints' metadata
/// and the models' doc comments at compile time, so it works in the Native AOT build) and Swagger UI at /swagger,
/// with the API key usable from the Authorize button.
/// </summary>
internal static class SwaggerSetup
{
    private const string DocumentName = "v1";
    private const string DocumentPath = "/swagger/{documentName}/swagger.json";

    public static IServiceCollection AddAdminSwagger(this IServiceCollection services)
    {
        services.AddOpenApi(DocumentName, options =>
        {
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "KestrelChat admin API",
                    Version = DocumentName,
                    Description = "List the chat's clients and rooms, disconnect a client, announce to everyone or to one room, and stop the server. " +
                        "When Admin:ApiKey is set, click Authorize and enter the key.",
                };
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[ApiKeyAuthenticationHandler.SchemeName] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.ApiKey,
                    In = ParameterLocation.Header,
                    Name = ApiKeyAuthenticationHandler.HeaderName,
                    Description = "The admin API key (Admin:ApiKey). 'Authorization: Bearer KEY' works too.",
                };
                return Task.CompletedTask;
            });
            options.AddOperationTransformer(MarkKeyRequirement);
        });
        return services;
    }

    /// <summary>
    /// The document as an endpoint; Swagger UI through a branch built on its first request. The UI's middleware
    /// takes a service in Invoke, which ASP.NET Core binds by compiling an expression tree: built at start-up, it
    /// costs every server memory (System.Linq.Expressions, the UI's file provider) for a page an operator opens
    /// now and then.
    /// </summary>
    public static WebApplication UseAdminSwagger(this WebApplication app)
    {
        app.Use(next =>
        {
            var swagger = new Lazy<RequestDelegate>(() =>
            {
                var branch = ((IApplicationBuilder)app).New();
                branch.UseSwaggerUI(options =>
                {
                    options.SwaggerEndpoint(DocumentPath.Replace("{documentName}", DocumentName, StringComparison.Ordinal), "KestrelChat admin API v1");
                    options.DocumentTitle = "KestrelChat admin API";
                });
                branch.Run(next);
                return branch.Build();
            });
            return context => context.Request.Path.StartsWithSegments("/swagger") ? swagger.Value(context) : next(context);
        });
        app.MapOpenApi(DocumentPath).AllowAnonymous();
        return app;
    }

    /// <summary>Marks the operations that need the key (those that require authorization), and only those.</summary>
    private static Task MarkKeyRequirement(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        if (!metadata.OfType<IAuthorizeData>().Any() || metadata.OfType<IAllowAnonymous>().Any())
        {
            return Task.CompletedTask;
        }
        operation.Security ??= [];
        operation.Security.Add(new OpenApiSecurityRequirement
        {
            [new OpenApiSecuritySchemeReference(ApiKeyAuthenticationHandler.SchemeName, context.Document)] = [],
        });
        operation.Responses ??= [];
        operation.Responses.TryAdd("401", new OpenApiResponse { Description = "The API key is missing or wrong." });
        operation.Responses.TryAdd("429", new OpenApiResponse
        {
            Description = "Too many requests with a missing or wrong key from this address (Admin:FailedKeyAttemptsPerMinute).",
        });
        return Task.CompletedTask;
    }
}
